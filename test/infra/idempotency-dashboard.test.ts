import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { IdempotencyDashboard } from '../../infra/constructs/index.js';
import { createTelemetry, Signal } from '../../src/core/telemetry.js';
import { captureLogs } from '../support/log-capture.js';

interface DashboardMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Record<string, string>;
  readonly stat?: string;
}

/** Every metric the dashboard's widgets graph, read back from the synthesized dashboard body. */
function widgetMetrics(template: Template): DashboardMetric[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'us-east-1')).join('');
  const widgets = (JSON.parse(text) as { widgets: { properties: { metrics?: unknown[][] } }[] }).widgets;
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).map((row) => {
      // [namespace, name, dimension, value, dimension, value, ..., { stat, label }]
      const options = row.at(-1) as { stat?: string };
      const [namespace, name, ...rest] = row.slice(0, -1) as string[];
      const dimensions: Record<string, string> = {};
      for (let index = 0; index < rest.length; index += 2)
        dimensions[rest[index] as string] = rest[index + 1] as string;
      return { namespace: namespace as string, name: name as string, dimensions, stat: options.stat };
    }),
  );
}

/** What the default telemetry actually writes as EMF for these signals: namespace, metric names, dimensions. */
function emitted(signals: readonly Signal[], scope: string, mode: string) {
  const logs = captureLogs();
  try {
    const telemetry = createTelemetry();
    for (const signal of signals) telemetry.emit(signal, { mode, scope, detail: { waitedMs: 12 } });
    telemetry.flush?.();
  } finally {
    logs.stop();
  }
  const metrics: DashboardMetric[] = [];
  for (const line of logs.lines) {
    const parsed = JSON.parse(line) as Record<string, unknown> & {
      _aws?: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
    };
    for (const directive of parsed._aws?.CloudWatchMetrics ?? []) {
      for (const dimensionSet of directive.Dimensions) {
        const dimensions = Object.fromEntries(dimensionSet.map((name) => [name, String(parsed[name])]));
        for (const metric of directive.Metrics)
          metrics.push({ namespace: directive.Namespace, name: metric.Name, dimensions });
      }
    }
  }
  return metrics;
}

describe('IdempotencyDashboard', () => {
  const stack = new Stack(new App(), 'Test');
  const dashboard = new IdempotencyDashboard(stack, 'Idempotency', {
    scopes: ['create-order', 'send-invoice'],
  });
  const template = Template.fromStack(stack);
  const metrics = widgetMetrics(template);

  it('graphs, per scope and mode, each decision kind, the wait-time p50 and p99, store errors and lost leases', () => {
    for (const scope of ['create-order', 'send-invoice']) {
      for (const mode of ['observe', 'enforce']) {
        const names = metrics
          .filter((metric) => metric.dimensions.scope === scope && metric.dimensions.mode === mode)
          .map((metric) => `${metric.name}${metric.name === 'wait_time' ? `:${metric.stat}` : ''}`);
        expect(names.sort()).toEqual(
          [
            'first_execution',
            'replay',
            'would_replay',
            'mismatch',
            'would_reject',
            'in_progress',
            'waited',
            'wait_time:p50',
            'wait_time:p99',
            'store_error',
            'lease_lost',
          ].sort(),
        );
      }
    }
  });

  it('reads exactly the metrics, namespace and dimensions the telemetry writes, so a rename fails here', () => {
    const signals = [
      ...new Set(metrics.filter((m) => m.name !== 'wait_time').map((m) => m.name)),
    ] as Signal[];
    const written = emitted([...signals, Signal.Waited], 'create-order', 'enforce');
    const key = (metric: DashboardMetric) =>
      `${metric.namespace}|${metric.name}|${JSON.stringify(Object.entries(metric.dimensions).sort())}`;
    const writtenKeys = new Set(written.map(key));
    const graphed = metrics.filter(
      (m) => m.dimensions.scope === 'create-order' && m.dimensions.mode === 'enforce',
    );
    expect(graphed.map(key).filter((graphedKey) => !writtenKeys.has(graphedKey))).toEqual([]);
  });

  it('alarms on any lost lease and on store errors, per scope and mode', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'lease_lost',
      Namespace: 'idemkit',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Dimensions: Match.arrayWith([
        { Name: 'mode', Value: 'enforce' },
        { Name: 'scope', Value: 'create-order' },
        { Name: 'service', Value: 'idemkit' },
      ]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'store_error', Threshold: 1 });
    expect([...dashboard.leaseLostAlarms.keys()].sort()).toEqual([
      'create-order/enforce',
      'create-order/observe',
      'send-invoice/enforce',
      'send-invoice/observe',
    ]);
  });

  it('refuses an empty scope list and a threshold below 1', () => {
    const fresh = () => new Stack(new App(), 'Other');
    expect(() => new IdempotencyDashboard(fresh(), 'D', { scopes: [] })).toThrow(
      /Expected `scopes` of IdempotencyDashboard 'D' to be at least one scope/,
    );
    expect(() => new IdempotencyDashboard(fresh(), 'D', { scopes: ['a'], storeErrorThreshold: 0 })).toThrow(
      /Expected `storeErrorThreshold` .* at least 1, got 0/,
    );
  });

  it('passes cdk-nag AwsSolutions without a finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
  });
});
