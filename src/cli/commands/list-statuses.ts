/**
 * The statuses `records list --status` accepts: stored ones, plus `stuck` and `expired`, which compare with
 * now. Apart from the command's module so that `--help` lists them without loading the AWS SDK.
 *
 * @example
 * LIST_STATUSES.includes('stuck'); // true
 */
export const LIST_STATUSES = ['IN_PROGRESS', 'COMPLETED', 'FAILED', 'stuck', 'expired'] as const;

/** One of {@link LIST_STATUSES}. */
export type ListStatus = (typeof LIST_STATUSES)[number];
