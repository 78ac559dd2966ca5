/**
 * `status --check` exit codes, for monitoring (a Nagios-style check, a Kubernetes probe, a cron job): apart
 * from rotator's other codes, so a check can never be mistaken for a failed command. When several hold, the
 * first in this order wins: unfinished, problems, overdue, due. Apart from the status operation so that a fleet's
 * verdict and the renderers read them without loading it.
 */
export const CHECK_EXIT_CODES = { ok: 0, due: 10, overdue: 11, unfinished: 12, problems: 13 } as const;

export type CheckState = keyof typeof CHECK_EXIT_CODES;
