import type { Signal } from './telemetry.js';

/**
 * The EMF metrics idemkit emits, defined once: the telemetry writes them, and the CDK `IdempotencyDashboard`
 * and the playground's page read them, so a renamed metric or dimension fails a test instead of leaving an
 * empty graph.
 */
export const METRICS = {
  /** The CloudWatch namespace unless `POWERTOOLS_METRICS_NAMESPACE` or the `namespace` option says otherwise. */
  defaultNamespace: 'idemkit',
  /** The `service` dimension's value. */
  service: 'idemkit',
  /** Every metric carries these dimensions, in this order. */
  dimensions: ['service', 'mode', 'scope'] as const,
  // Each decision and incident is counted under its signal's name (`Signal` in telemetry.ts), as a `Count`.
  /** The decisions by kind, as the rollout guide asks operators to compare them per scope and mode before enforcing. */
  decisions: [
    'first_execution',
    'replay',
    'would_replay',
    'mismatch',
    'would_reject',
    'in_progress',
    'waited',
  ] as const satisfies readonly Signal[],
  /** The incidents an operator is alarmed on: the store failed, or an owner outlived its lease. */
  incidents: ['store_error', 'lease_lost'] as const satisfies readonly Signal[],
  /** How long a duplicate waited for a running first execution, in milliseconds: a histogram per scope and mode. */
  waitTime: 'wait_time',
  /** The wait-time percentiles shown. */
  waitPercentiles: ['p50', 'p99'] as const,
} as const;
