/**
 * Starting a new run (`rotate`, `sync`): record the config (known-configs.ts, token-slot.ts), take every
 * store's lock (and an Auth Token account's slot), refuse while this config or another that shares a store (or
 * the account's token) has an unfinished run, claim the stores beside them, run, and drop the claims once the
 * run is over. Re-entering a journaled run is reenter.ts's.
 */
import { ExitCode, RotatorError } from "../errors.js";
import { claimRecord, claimStores } from "./claims.js";
import type { EngineContext } from "./context.js";
import { pausepoint } from "./failpoint.js";
import { newRunId } from "./journal.js";
import { noteThisConfig } from "./known-configs.js";
import { refuseOverlappingRun } from "./overlap.js";
import { releaseClaimsIfOver, unfinishedRunFor } from "./reenter.js";
import { stateOf } from "./state/index.js";
import type { Operation } from "./step-table.js";
import { lockRefs, refuseUnfinishedTokenRun, registerTokenConfig, releaseTokenSlotIfOver } from "./token-slot.js";

export async function startNewRun<T>(
  context: EngineContext,
  operation: Extract<Operation, "rotate" | "sync">,
  body: (runId: string) => Promise<T>,
): Promise<T> {
  const { loaded } = context;
  const runId = newRunId();
  // Known before the locks are tried: a config that loses a shared store's lock to another is still one whose
  // stores the winner must not strand (known-configs.ts).
  await noteThisConfig(context);
  // Likewise in Twilio, for configs of this account's Auth Token that other states and hosts hold.
  await registerTokenConfig(context);
  await pausepoint(`before-lock:${operation}`, context.env);
  // One lock per store (and the account's token slot): a config sharing any with this one waits its turn (exit 5).
  const lock = await stateOf(context).acquireLocks(lockRefs(context), {
    runId,
    command: operation,
    configFile: loaded.file,
  });
  try {
    const unfinished = await unfinishedRunFor(context);
    if (unfinished !== undefined) {
      throw new RotatorError(`run ${unfinished.runId} for this credential is not finished`, {
        exitCode: ExitCode.unfinishedRun,
        hint: "run `rotator resume` to finish it (or `rotator status` to see where it stopped)",
      });
    }
    // Another config's unfinished run sharing a store, or this account's token: writing now could strand its stores.
    await refuseOverlappingRun(context, operation);
    await refuseUnfinishedTokenRun(context);
    // Beside each local store: seen by runs of every state directory, kept until this run is over.
    await claimStores(context, claimRecord(context, runId, loaded.file));
    try {
      return await body(runId);
    } finally {
      await releaseClaimsIfOver(context, runId);
      await releaseTokenSlotIfOver(context, runId);
    }
  } finally {
    await lock.release();
  }
}
