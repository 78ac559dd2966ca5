/**
 * `rotator rollback`: the operator decides an unfinished run (typically one awaiting consumers) should be
 * undone. Every written store goes back to its restore point, in reverse order, and the new key is
 * deleted. Refused once the revoke has started: the old key may be gone, and the stores' new key is then
 * the only working one.
 */
import { ExitCode, RotatorError } from "../errors.js";
import { credentialKey, type EngineContext, storeRefs } from "./context.js";
import { Journal, processIdentity } from "./journal.js";
import { StoreLocks } from "./lock.js";
import { refuseOverlappingRun } from "./overlap.js";
import type { CommandResult } from "./result.js";
import { resultFromState } from "./result.js";
import { checkSameStores, rebuildState } from "./resume.js";
import { unfinishedRunFor } from "./rotate.js";
import { rollbackStep } from "./steps.js";

export async function rollback(context: EngineContext): Promise<CommandResult> {
  const { stateDir, reporter } = context;
  const key = credentialKey(context);
  const run = unfinishedRunFor(stateDir, key);
  if (run === undefined) {
    refuseOverlappingRun(context, "rollback");
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
  const lock = StoreLocks.acquire(
    stateDir,
    storeRefs(context),
    { runId: run.runId, command: "rollback", configFile: context.loaded.file },
    { takeOverStale: true },
  );
  try {
    checkSameStores(context, run.started);
    const journal = Journal.reopen(stateDir, run.runId);
    journal.append({ event: "resume-started", ...processIdentity() });
    reporter.step(`rolling back run ${run.runId} on request`);
    const state = rebuildState(context, journal, run.records);
    return resultFromState("rollback", state, await rollbackStep(state, "rollback requested by the operator"));
  } finally {
    lock.release();
  }
}
