import { METRICS } from '../src/core/metrics.js';
import type { DecisionRecord } from './decisions.js';

/** One of the decision kinds the rollout view counts (`METRICS.decisions`). */
export type DecisionKind = (typeof METRICS.decisions)[number];
/** One of the incidents the rollout view counts (`METRICS.incidents`). */
export type IncidentKind = (typeof METRICS.incidents)[number];

/** What the dashboard graphs for one scope in one mode, counted since the playground started. */
export interface BoardRow {
  readonly scope: string;
  readonly mode: string;
  /** Decisions by kind, every kind present (0 when none). */
  readonly decisions: Readonly<Record<DecisionKind, number>>;
  /** Store errors and lost leases, every kind present. */
  readonly incidents: Readonly<Record<IncidentKind, number>>;
  /** The waits' count and percentiles in milliseconds (`undefined` before the first wait). */
  readonly wait: { readonly count: number; readonly p50?: number; readonly p99?: number };
}

/** The whole view: the column names, in the dashboard's order, and one row per scope and mode seen. */
export interface BoardSnapshot {
  readonly decisionKinds: readonly DecisionKind[];
  readonly incidentKinds: readonly IncidentKind[];
  readonly rows: readonly BoardRow[];
}

interface Tally {
  readonly decisions: Record<string, number>;
  readonly incidents: Record<string, number>;
  /** Every wait seen, kept sorted for the percentiles. */
  readonly waits: number[];
}

const DECISION_KINDS: ReadonlySet<string> = new Set(METRICS.decisions);
const INCIDENT_KINDS: ReadonlySet<string> = new Set(METRICS.incidents);

/**
 * Counts the decisions as the `IdempotencyDashboard` graphs them, from the same log lines the EMF metrics
 * are written beside: per scope and mode, each decision kind, the wait time's p50 and p99 (the `waitedMs`
 * of each `waited`, the value of the `wait_time` metric), store errors and lost leases. Other signals
 * (`released`, `missing_key`...) are shown as decisions on the page but not counted, as on the dashboard.
 *
 * @example
 * const board = new RolloutBoard();
 * feed.on('decision', (record) => board.add(record));
 * board.snapshot().rows[0]?.decisions.replay;
 */
export class RolloutBoard {
  readonly #tallies = new Map<string, { scope: string; mode: string; tally: Tally }>();

  /** Counts one decision; returns whether it changed a count. */
  add(record: DecisionRecord): boolean {
    const isDecision = DECISION_KINDS.has(record.signal);
    if (!isDecision && !INCIDENT_KINDS.has(record.signal)) return false;
    const { tally } = this.#rowOf(record.scope, record.mode);
    if (isDecision) tally.decisions[record.signal] = (tally.decisions[record.signal] ?? 0) + 1;
    else tally.incidents[record.signal] = (tally.incidents[record.signal] ?? 0) + 1;
    const waited = record.detail.waitedMs;
    if (record.signal === 'waited' && typeof waited === 'number' && Number.isFinite(waited)) {
      insertSorted(tally.waits, waited);
    }
    return true;
  }

  /** The counts now, rows sorted by scope then mode. */
  snapshot(): BoardSnapshot {
    const rows = [...this.#tallies.values()]
      .sort((a, b) => a.scope.localeCompare(b.scope) || a.mode.localeCompare(b.mode))
      .map(({ scope, mode, tally }): BoardRow => {
        const decisions = Object.fromEntries(
          METRICS.decisions.map((kind) => [kind, tally.decisions[kind] ?? 0]),
        ) as Record<DecisionKind, number>;
        const incidents = Object.fromEntries(
          METRICS.incidents.map((kind) => [kind, tally.incidents[kind] ?? 0]),
        ) as Record<IncidentKind, number>;
        const { waits } = tally;
        const wait =
          waits.length === 0
            ? { count: 0 }
            : { count: waits.length, p50: percentile(waits, 50), p99: percentile(waits, 99) };
        return { scope, mode, decisions, incidents, wait };
      });
    return { decisionKinds: METRICS.decisions, incidentKinds: METRICS.incidents, rows };
  }

  #rowOf(scope: string, mode: string) {
    const id = `${scope}\u0000${mode}`;
    let row = this.#tallies.get(id);
    if (row === undefined) {
      row = { scope, mode, tally: { decisions: {}, incidents: {}, waits: [] } };
      this.#tallies.set(id, row);
    }
    return row;
  }
}

/**
 * The nearest-rank percentile of `sorted` (ascending, not empty): the smallest value with at least `p`
 * percent of the values at or below it, so it is always a wait that happened.
 *
 * @example
 * percentile([10, 20, 30, 40], 50); // 20
 */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

function insertSorted(values: number[], value: number): void {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] as number) <= value) low = middle + 1;
    else high = middle;
  }
  values.splice(low, 0, value);
}
