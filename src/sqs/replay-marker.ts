/**
 * The message attribute that `idemkit dlq replay` sets on every message it sends back, so the job runner
 * knows an operator replayed it: a `FAILED` job runs again (the fix is why the operator replays), a
 * completed one is still skipped (docs/protocol.md section 6). The value is the replay's id.
 *
 * @example
 * record.messageAttributes[REPLAY_ATTRIBUTE]?.stringValue; // '2026-11-22T19:50:00Z/3f2a...'
 */
export const REPLAY_ATTRIBUTE = 'idemkit-replay';
