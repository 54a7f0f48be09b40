import type { Signal, SignalFacts, Telemetry } from '../../src/core/telemetry.js';

/** A telemetry that keeps every signal and warning, so tests can assert what was logged and counted. */
export function recordingTelemetry(): {
  telemetry: Telemetry;
  signals: { signal: Signal; facts: SignalFacts }[];
  warnings: string[];
  names(): Signal[];
  reset(): void;
} {
  const signals: { signal: Signal; facts: SignalFacts }[] = [];
  const warnings: string[] = [];
  return {
    telemetry: {
      emit(signal, facts) {
        signals.push({ signal, facts });
      },
      warn(message) {
        warnings.push(message);
      },
    },
    signals,
    warnings,
    names: () => signals.map((entry) => entry.signal),
    reset() {
      signals.length = 0;
      warnings.length = 0;
    },
  };
}

/** A recording telemetry that also counts its flushes, for the doors' one-flush-per-invocation tests. */
export function flushing(): { telemetry: Telemetry; flushes: { count: number } } {
  const recorded = recordingTelemetry();
  const flushes = { count: 0 };
  const telemetry: Telemetry = {
    ...recorded.telemetry,
    flush: () => {
      flushes.count++;
    },
  };
  return { telemetry, flushes };
}
