/**
 * The sweep for idempotency tables without TTL, shared by `idemkit records sweep` and the scheduled sweep
 * Lambda (`infra/handlers/sweep.ts`).
 *
 * @example
 * import { sweepExpiredRecords } from '../sweep/index.js';
 */
export { type SweepOptions, type SweepProgress, type SweepSummary, sweepExpiredRecords } from './sweep.js';
