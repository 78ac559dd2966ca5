/**
 * The events rotator notifies about, kept apart from the config schema (which loads zod) so that command
 * definitions, loaded for `rotator --help`, can say which events they send.
 */

/** Every event rotator notifies about. */
export const NOTIFY_EVENTS = [
  "completed",
  "failed",
  "rolled-back",
  "awaiting-consumers",
  "needs-operator",
  "watch-failure",
  "watch-recovered",
] as const;

export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** How a run that changes stores ended: what rotate, sync, resume and rollback notify. */
export const RUN_OUTCOME_EVENTS = [
  "completed",
  "failed",
  "rolled-back",
  "awaiting-consumers",
  "needs-operator",
] as const satisfies readonly NotifyEvent[];

/** What `watch` notifies: the first failing check, and the first passing one after. */
export const WATCH_EVENTS = ["watch-failure", "watch-recovered"] as const satisfies readonly NotifyEvent[];
