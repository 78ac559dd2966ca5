/**
 * Re-entering a journaled run (`resume`, `rollback`). Every decision about the run is taken from a journal
 * read *after* this command holds the locks of every store: a decision from an earlier read could be stale
 * by the time the locks are held (another resume may have finished the run and revoked the old key in
 * between, and a rollback acting on the earlier read would then restore a revoked key).
 */
import { ExitCode, RotatorError } from "../errors.js";
import { claimRecord, claimStores, releaseClaims } from "./claims.js";
import { type EngineContext, ownsRun } from "./context.js";
import { failpoint, pausepoint } from "./failpoint.js";
import { isUnfinished, Journal, listRuns, processIdentity, type RunSummary, summarizeRun } from "./journal.js";
import { StoreLocks } from "./lock.js";

/** The newest unfinished run of this config, read now. */
export function unfinishedRunFor(context: Pick<EngineContext, "stateDir" | "credentialKey" | "legacyCredentialKeys">) {
  return listRuns(context.stateDir)
    .filter((run) => ownsRun(context, run.started?.credentialKey) && isUnfinished(run))
    .at(-1);
}

/**
 * Take every store's lock (taking over stale ones: finishing a dead owner's run is the point), then call
 * `body` with this config's unfinished run as the journal says *now*, or undefined when there is none.
 * Claims beside the stores follow the run: re-taken for it, and dropped once it is over.
 */
export async function underLocks<T>(
  context: EngineContext,
  command: "resume" | "rollback",
  body: (run: RunSummary | undefined) => Promise<T>,
): Promise<T> {
  // Only names the lock's owner in messages; nothing is decided from this read.
  const hint = unfinishedRunFor(context);
  await pausepoint(`before-lock:${command}`, context.env);
  const lock = StoreLocks.acquire(
    context.stateDir,
    context.refs,
    { runId: hint?.runId ?? `${command}-${process.pid}`, command, configFile: context.loaded.file },
    { takeOverStale: true },
  );
  try {
    failpoint(`after-lock:${command}`, context.env);
    await pausepoint(`after-lock:${command}`, context.env);
    const run = unfinishedRunFor(context);
    if (run === undefined) return await body(undefined);
    claimStores(context.refs, claimRecord(run.runId, context.stateDir, run.started?.configFile));
    try {
      return await body(run);
    } finally {
      releaseClaimsIfOver(context, run.runId);
    }
  } finally {
    lock.release();
  }
}

/** Drop a run's claims when its journal says it is over (completed, rolled back, or nothing left to do). */
export function releaseClaimsIfOver(context: Pick<EngineContext, "refs" | "stateDir">, runId: string): void {
  let over: boolean;
  try {
    over = !isUnfinished(summarizeRun(runId, Journal.pathFor(context.stateDir, runId)));
  } catch {
    // No journal: the run never started (it died or was refused in preflight).
    over = true;
  }
  if (over) releaseClaims(context.refs, runId);
}

/** The run's config must name the same stores as when the run started: resume writes them by name. */
export function checkSameStores(context: EngineContext, started: RunSummary["started"]): void {
  const then = (started?.stores ?? []).map((s) => `${s.name}:${s.type}`).join(", ");
  const now = context.stores.map((s) => `${s.name}:${s.type}`).join(", ");
  if (then !== now) {
    throw new RotatorError(`the config's stores changed since the run started (then: ${then}; now: ${now})`, {
      exitCode: ExitCode.badInput,
      hint: "resume with the config the run started with",
    });
  }
}

/** Reopen the run's journal for this command, recording who re-entered it. */
export function reopenJournal(context: EngineContext, run: RunSummary): Journal {
  checkSameStores(context, run.started);
  const journal = Journal.reopen(context.stateDir, run.runId);
  journal.append({ event: "resume-started", ...processIdentity() });
  return journal;
}
