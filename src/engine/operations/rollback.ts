/**
 * `rotator rollback`: the operator decides an unfinished run (typically one awaiting consumers) should be
 * undone. Every written store goes back to its restore point, in reverse order, and the new key is
 * deleted. Refused once the revoke has started: the old key may be gone, and the stores' new key is then
 * the only working one. A rollback that succeeds exits 0 (status rolled-back): it did what the operator asked;
 * exit 3 is for a rotation that had to roll back. Decided under the stores' locks, from the journal as it is then (see reenter.ts).
 */

import { DECLINED_NEXT, ExitCode, RotatorError } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { refuseOverlappingRun } from "../overlap.js";
import {
  enterRun,
  nothingToDropFrom,
  noticeLostCredential,
  rebuildState,
  underLocks,
  withBinding,
} from "../reenter.js";
import { type CommandResult, emptyResult, resultFromState } from "../result.js";
import { runSteps } from "../runner.js";
import { rollbackSteps } from "../step-table.js";
import { releaseTokenSlotIfOver } from "../token-slot.js";
import { type ConfirmationSteps, describeUnfinishedRun } from "../unfinished-run.js";

export interface RollbackOptions {
  /** Consumers of the run not to wait for (back on the old credential), on the operator's word. */
  dropConsumers?: string[];
  /** Asked under the locks once the run is found, before anything changes (the CLI, on a terminal). False cancels. */
  confirm?: (request: ConfirmationSteps) => Promise<boolean>;
}

export async function rollback(context: EngineContext, options: RollbackOptions = {}): Promise<CommandResult> {
  const dropConsumers = options.dropConsumers ?? [];
  return underLocks(context, "rollback", async (run) => {
    if (run === undefined) {
      await refuseOverlappingRun(context, "rollback");
      if (dropConsumers.length > 0) throw nothingToDropFrom("rollback");
      throw new RotatorError("there is no unfinished run of this credential to roll back", {
        exitCode: ExitCode.badInput,
        hint: "`rotator status` lists recent runs; a completed rotation is undone by rotating again",
      });
    }
    if (run.records.some((r) => r.event === "revoke-started")) {
      throw new RotatorError(`run ${run.runId} has started revoking the old key, so it can no longer be rolled back`, {
        exitCode: ExitCode.badInput,
        hint: "run `rotator resume` to finish it; every store already holds the new key",
      });
    }
    const steps = [
      `undo ${describeUnfinishedRun(run)}: put back what every store it wrote held before, wait for its consumers to be back on the old credential, then delete its new one`,
    ];
    if (options.confirm !== undefined && !(await options.confirm({ steps }))) {
      return emptyResult("rollback", "cancelled", ExitCode.cancelled, { next: DECLINED_NEXT });
    }
    const { bound, journal } = await enterRun(context, run, "rollback", dropConsumers);
    try {
      context.reporter.step(`rolling back run ${run.runId} on request`);
      const state = rebuildState(bound.context, journal, await journal.records());
      await noticeLostCredential(state);
      const outcome = await runSteps(state, rollbackSteps("rollback requested by the operator"));
      // Exit 3 says a rotation had to roll back; an operator's rollback that did what was asked succeeded.
      const asked = outcome.status === "rolled-back" ? { ...outcome, exitCode: ExitCode.completed } : outcome;
      return withBinding(resultFromState("rollback", state, asked), bound);
    } finally {
      await releaseTokenSlotIfOver(bound.context, run.runId);
      await bound.close();
    }
  });
}
