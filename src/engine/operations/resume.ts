/**
 * `rotator resume`: finish or roll back the interrupted run of this credential, using only its journal
 * and what the stores and Twilio hold now.
 *
 * - Crashed before the key existed, or the new secret is in no store: roll back (delete the key, found by
 *   id or by the run's friendly name) — nothing was written, or nothing can be finished.
 * - Crashed while writing stores: recover the new secret from a store that holds it, check it still
 *   authenticates, write the remaining stores, then carry on to the revoke.
 * - Crashed during a rollback: finish the rollback (every provider's rollback is idempotent).
 * - Crashed after every store was written: carry on with consumers and the revoke.
 */

import { DECLINED_NEXT, ExitCode } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { isUnfinished } from "../journal.js";
import { describeOwner } from "../lock.js";
import { refuseOverlappingRun } from "../overlap.js";
import { continueJournaledRun, enterRun, nothingToDropFrom, underLocks, withBinding } from "../reenter.js";
import { type CommandResult, emptyResult } from "../result.js";
import { stateOf } from "../state/index.js";
import { releaseTokenSlotIfOver } from "../token-slot.js";
import { type ConfirmationSteps, describeUnfinishedRun } from "../unfinished-run.js";

export interface ResumeOptions {
  /** Consumers of the run to stop waiting for, on the operator's word (journaled; the result names them). */
  dropConsumers?: string[];
  /** Revoke even though stores of other configs are known to hold the old credential (journaled). */
  allowSharedRevoke?: boolean;
  /** Asked under the locks once the run is found, before anything changes (the CLI, on a terminal). False cancels. */
  confirm?: (request: ConfirmationSteps) => Promise<boolean>;
}

export async function resume(context: EngineContext, options: ResumeOptions = {}): Promise<CommandResult> {
  const { reporter } = context;
  const dropConsumers = options.dropConsumers ?? [];
  // Read before the locks only to say which stale locks this resume clears; nothing is decided from it.
  const staleBefore = await staleLocksOfRunsWithNothingToFinish(context);
  return underLocks(context, "resume", async (run) => {
    if (run === undefined) {
      await refuseOverlappingRun(context, "resume");
      if (dropConsumers.length > 0) throw nothingToDropFrom("resume");
      reporter.step("nothing to resume: every run of this credential is finished");
      for (const line of staleBefore) reporter.info(line);
      return emptyResult("resume", "nothing-to-resume", ExitCode.completed, { warnings: staleBefore });
    }
    const steps = [
      `carry on ${describeUnfinishedRun(run)} from where it stopped: the stores it has left to write, its consumers, then the revoke of the old credential (or its rollback, where it cannot go on)`,
    ];
    if (options.confirm !== undefined && !(await options.confirm({ steps }))) {
      return emptyResult("resume", "cancelled", ExitCode.cancelled, { next: DECLINED_NEXT });
    }
    const { bound, journal } = await enterRun(context, run, "resume", dropConsumers);
    try {
      if (options.allowSharedRevoke) await journal.append({ event: "shared-revoke-allowed", command: "resume" });
      reporter.step(`resuming run ${run.runId} (journal ${journal.path})`);
      return withBinding(await continueJournaledRun(bound.context, journal, "resume"), bound);
    } finally {
      // With the run's own issuer: after a promote only it knows the new token to act as admin with.
      await releaseTokenSlotIfOver(bound.context, run.runId);
      await bound.close();
    }
  });
}

/**
 * A run killed during preflight (or between writing its outcome and releasing its locks) leaves stale
 * locks but no unfinished journal: it changed nothing, so there is nothing to resume, and its locks would
 * otherwise block every later rotate. Resume takes such locks over (and releases them); these lines say so.
 */
async function staleLocksOfRunsWithNothingToFinish(context: EngineContext): Promise<string[]> {
  const lines: string[] = [];
  const state = stateOf(context);
  for (const { name, lock } of await state.inspectLocks(context.refs)) {
    if (lock.state !== "stale") continue;
    const runId = lock.owner?.runId;
    const journalled = runId === undefined ? undefined : await state.readRun(runId);
    if (journalled !== undefined && isUnfinished(journalled)) continue;
    lines.push(
      `removed the stale lock of store ${name} left by ${describeOwner(lock.owner)}, which ${journalled === undefined ? "stopped before changing anything" : "had finished"}`,
    );
  }
  return lines;
}
