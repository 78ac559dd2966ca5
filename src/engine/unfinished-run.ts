/** What sync, resume and rollback are about to do, as their question lists it (the CLI asks it on a terminal). */
export interface ConfirmationSteps {
  steps: string[];
}

/**
 * What resume and rollback say they are about to do before they ask (shared/confirm.ts): which run, started
 * by what and when, and where it stopped, from its journal.
 */
import type { RunSummary } from "./journal.js";

/** A question's subject, or a cancelled result's: `run R (rotate, started T), stopped after "stores-written"`. */
export function describeUnfinishedRun(run: RunSummary): string {
  const started = run.started === undefined ? "" : `${run.started.command}, started ${run.started.ts}`;
  const last = run.records.at(-1)?.event;
  return `run ${run.runId}${started === "" ? "" : ` (${started})`}${last === undefined ? "" : `, stopped after ${last}`}`;
}
