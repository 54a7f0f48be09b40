import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { expected } from '../../src/core/messages.js';
import { METRICS } from '../../src/core/metrics.js';
import { Signal } from '../../src/core/telemetry.js';

/** The rollout modes a dashboard shows (`off` emits nothing). */
export type DashboardMode = 'observe' | 'enforce';

/**
 * Props of {@link IdempotencyDashboard}.
 *
 * @example
 * { scopes: ['create-order', 'send-invoice-email'] }
 */
export interface IdempotencyDashboardProps {
  /** The scopes (operations) to show, one row of widgets each. */
  readonly scopes: readonly string[];
  /**
   * The modes to show side by side: `observe` before enforcing, `enforce` after.
   * @default ['observe', 'enforce']
   */
  readonly modes?: readonly DashboardMode[];
  /**
   * The CloudWatch namespace the functions emit to (their `POWERTOOLS_METRICS_NAMESPACE`).
   * @default 'idemkit'
   */
  readonly namespace?: string;
  /**
   * The dashboard's name.
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
  /**
   * Store errors per 5 minutes, per scope and mode, that raise the store-error alarm.
   * @default 1
   */
  readonly storeErrorThreshold?: number;
  /**
   * The graphs' and alarms' period.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * A CloudWatch dashboard for rolling idemkit out the way the rollout guide says: per scope and mode, the
 * decisions by kind (first execution, replay, would-replay, mismatch, in progress, waited), the wait-time
 * distribution (p50, p99), store errors and lost leases; and alarms on store errors and lost leases. It reads
 * the EMF metrics idemkit emits, named from the same definition the telemetry writes them with.
 *
 * @example
 * new IdempotencyDashboard(this, 'Idempotency', { scopes: ['create-order'] });
 */
export class IdempotencyDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** In alarm when a scope's store errors reach `storeErrorThreshold` in a period, by `<scope>/<mode>`. */
  readonly storeErrorAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  /** In alarm on any lost lease (an owner outlived its lease: a zombie, or a lease too short), by `<scope>/<mode>`. */
  readonly leaseLostAlarms: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: IdempotencyDashboardProps) {
    super(scope, id);
    const scopes = [...new Set(props.scopes)];
    if (scopes.length === 0) {
      throw new Error(
        expected(`\`scopes\` of IdempotencyDashboard '${id}'`, 'at least one scope', 'an empty list'),
      );
    }
    const modes = props.modes ?? ['observe', 'enforce'];
    if (modes.length === 0) {
      throw new Error(
        expected(`\`modes\` of IdempotencyDashboard '${id}'`, "'observe', 'enforce' or both", 'none'),
      );
    }
    const threshold = props.storeErrorThreshold ?? 1;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new Error(
        expected(
          `\`storeErrorThreshold\` of IdempotencyDashboard '${id}'`,
          'a whole number of at least 1',
          threshold,
        ),
      );
    }
    const namespace = props.namespace ?? METRICS.defaultNamespace;
    const period = props.period ?? Duration.minutes(5);
    const metric = (name: string, opScope: string, mode: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace,
        metricName: name,
        dimensionsMap: { service: METRICS.service, mode, scope: opScope },
        statistic,
        period,
        label,
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    const storeErrorAlarms = new Map<string, cloudwatch.Alarm>();
    const leaseLostAlarms = new Map<string, cloudwatch.Alarm>();
    for (const opScope of scopes) {
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${opScope}`, width: 24, height: 1 }),
      );
      for (const mode of modes) {
        const decisions = new cloudwatch.GraphWidget({
          title: `${opScope} (${mode}): decisions`,
          left: METRICS.decisions.map((name) => metric(name, opScope, mode, 'Sum', name)),
          width: 10,
        });
        const waits = new cloudwatch.GraphWidget({
          title: `${opScope} (${mode}): wait time (ms)`,
          left: METRICS.waitPercentiles.map((statistic) =>
            metric(METRICS.waitTime, opScope, mode, statistic, statistic),
          ),
          width: 7,
        });
        const storeErrors = metric(Signal.StoreError, opScope, mode, 'Sum', Signal.StoreError);
        const leaseLost = metric(Signal.LeaseLost, opScope, mode, 'Sum', Signal.LeaseLost);
        const incidents = new cloudwatch.GraphWidget({
          title: `${opScope} (${mode}): store errors and lost leases`,
          left: [storeErrors, leaseLost],
          width: 7,
        });
        this.dashboard.addWidgets(decisions, waits, incidents);
        const name = `${opScope}/${mode}`;
        storeErrorAlarms.set(
          name,
          new cloudwatch.Alarm(this, `StoreErrors-${opScope}-${mode}`, {
            metric: metric(Signal.StoreError, opScope, mode, 'Sum'),
            threshold,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            alarmDescription: `The idempotency store failed for ${name}: requests ran unguarded (fail-open) or got 503 (strict). Check the table's throttling and the function's network.`,
          }),
        );
        leaseLostAlarms.set(
          name,
          new cloudwatch.Alarm(this, `LeaseLost-${opScope}-${mode}`, {
            metric: metric(Signal.LeaseLost, opScope, mode, 'Sum'),
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            alarmDescription: `An owner in ${name} outlived its lease and another invocation took over: look for paused or frozen invocations, and a lock TTL shorter than the operation.`,
          }),
        );
      }
    }
    this.storeErrorAlarms = storeErrorAlarms;
    this.leaseLostAlarms = leaseLostAlarms;
  }
}
