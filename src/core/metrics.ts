/**
 * The EMF metrics idemkit emits, defined once: the telemetry writes them and the CDK `IdempotencyDashboard`
 * reads them, so a renamed metric or dimension fails a test instead of leaving an empty graph.
 */
export const METRICS = {
  /** The CloudWatch namespace unless `POWERTOOLS_METRICS_NAMESPACE` or the `namespace` option says otherwise. */
  defaultNamespace: 'idemkit',
  /** The `service` dimension's value. */
  service: 'idemkit',
  /** Every metric carries these dimensions, in this order. */
  dimensions: ['service', 'mode', 'scope'] as const,
  // Each decision and incident is counted under its signal's name (`Signal` in telemetry.ts), as a `Count`.
  /** How long a duplicate waited for a running first execution, in milliseconds: a histogram per scope and mode. */
  waitTime: 'wait_time',
} as const;
