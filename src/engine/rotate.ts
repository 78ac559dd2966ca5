/**
 * `rotator rotate`: the fixed order from the top. Lock, preflight, issue, verify, write every store,
 * consumers, revoke, finish. Any failure before the revoke rolls back to exactly what the stores held.
 */
import { credentialId } from "../../providers/contract.js";
import { ExitCode, PreflightError, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { claimRecord, claimStores } from "./claims.js";
import type { EngineContext } from "./context.js";
import { failpoint } from "./failpoint.js";
import { Journal, newRunId, processIdentity } from "./journal.js";
import { StoreLocks } from "./lock.js";
import { otherHolders, refuseOverlappingRun, sharedCredentialError } from "./overlap.js";
import { credentialAge, runPreflight } from "./preflight.js";
import { releaseClaimsIfOver, unfinishedRunFor } from "./reenter.js";
import { type CommandResult, resultFromState } from "./result.js";
import {
  awaitConsumersStep,
  describeStepError,
  discardStrayKeys,
  finishStep,
  issueStep,
  newRunState,
  type RunState,
  revokeStep,
  rollbackStep,
  storesStillHoldNewKey,
  verifyNewStep,
  writeStoresStep,
} from "./steps.js";

export interface RotateOptions {
  /** Only rotate when the current key is older than credential.maxAgeDays. */
  ifDue?: boolean;
  /** The current key may already be dead (security reset): rotate anyway. */
  emergency?: boolean;
  /**
   * Revoke the old credential even though stores of other configs are known (from this state directory's
   * journals) to hold it: the operator has checked those stores, or means to break them.
   */
  allowSharedRevoke?: boolean;
  version?: string;
}

export async function rotate(context: EngineContext, options: RotateOptions = {}): Promise<CommandResult> {
  const { stateDir, loaded } = context;
  const runId = newRunId();
  // One lock per store: a config sharing any store with this one waits its turn (exit 5).
  const lock = StoreLocks.acquire(stateDir, context.refs, { runId, command: "rotate", configFile: loaded.file });
  try {
    const unfinished = unfinishedRunFor(context);
    if (unfinished !== undefined) {
      throw new RotatorError(`run ${unfinished.runId} for this credential is not finished`, {
        exitCode: ExitCode.unfinishedRun,
        hint: "run `rotator resume` to finish it (or `rotator status` to see where it stopped)",
      });
    }
    // Another config's unfinished run sharing a store: rotating now could revoke the key its stores hold.
    refuseOverlappingRun(context, "rotate");
    // Beside each local store: seen by runs of every state directory, kept until this run is over.
    claimStores(context.refs, claimRecord(runId, stateDir, loaded.file));
    try {
      return await rotateClaimed(context, runId, options);
    } finally {
      releaseClaimsIfOver(context, runId);
    }
  } finally {
    lock.release();
  }
}

async function rotateClaimed(context: EngineContext, runId: string, options: RotateOptions): Promise<CommandResult> {
  const { reporter, stateDir, loaded } = context;
  failpoint("after-lock:rotate", context.env);
  reporter.step("preflight: admin credential, stores, drift");
  const preflight = await runPreflight(context, options);
  for (const note of preflight.notes) reporter.info(note);
  if (preflight.problems.length > 0) throw new PreflightError(preflight.problems);

  if (preflight.current !== undefined && !options.allowSharedRevoke) {
    const holders = otherHolders(context, credentialId(preflight.current));
    if (holders.length > 0) throw sharedCredentialError(holders, credentialId(preflight.current));
  }

  if (options.ifDue && preflight.currentInfo !== undefined) {
    const age = credentialAge(preflight.currentInfo.createdAt);
    if (age.skewed) {
      throw new RotatorError(
        `${maskSid(preflight.currentInfo.id)} was created ${age.aheadBy} in the future by this machine's clock, so its age cannot be judged`,
        {
          exitCode: ExitCode.badInput,
          hint: "this machine's clock is behind Twilio's: fix it (NTP), then run again; rotate without --if-due to rotate regardless",
        },
      );
    }
    if (age.days < loaded.config.credential.maxAgeDays) {
      reporter.step(
        `not due: ${maskSid(preflight.currentInfo.id)} is ${age.days} days old (rotates at ${loaded.config.credential.maxAgeDays})`,
      );
      return notDue(preflight.currentInfo.id);
    }
  }

  const journal = Journal.create(stateDir, runId);
  journal.append({
    event: "run-started",
    command: options.emergency ? "rotate --emergency" : "rotate",
    credentialKey: context.credentialKey,
    accountSid: loaded.config.twilio.accountSid,
    credentialType: loaded.config.credential.type,
    keyType: loaded.config.credential.keyType,
    stores: context.stores.map((s, i) => ({
      name: s.name,
      type: s.type,
      location: s.describe(),
      identity: context.refs[i]?.identity ?? `${s.type}:${s.describe()}`,
    })),
    configFile: loaded.file,
    ...processIdentity(),
    version: options.version ?? "unknown",
  });
  const state = newRunState(
    context,
    journal,
    preflight.current,
    preflight.stores.map((f) => f.snapshot),
  );
  // An emergency rotation of a key Twilio no longer knows has nothing to revoke.
  if (options.emergency && preflight.current !== undefined && preflight.currentInfo === undefined) {
    state.oldKeyId = undefined;
  }
  journal.append({
    event: "preflight-passed",
    oldKeyId: preflight.current === undefined ? "" : credentialId(preflight.current),
    storeVersions: Object.fromEntries(preflight.stores.map((f) => [f.name, f.snapshot?.version ?? null])),
  });
  reporter.info(`run ${runId}, journal ${journal.path}`);
  return runFromIssue(state);
}

/** Steps 2-8; also where `resume` re-enters a run that crashed before the key existed. */
async function runFromIssue(state: RunState): Promise<CommandResult> {
  try {
    await issueStep(state);
  } catch (error) {
    // The key may exist even though the call failed (lost response): rollback searches by name.
    return resultFromState(
      "rotate",
      state,
      await rollbackStep(state, `creating the key failed: ${describeStepError(error)}`),
    );
  }
  return runFromVerify(state, "rotate");
}

export async function runFromVerify(state: RunState, command: string): Promise<CommandResult> {
  await discardStrayKeys(state);
  try {
    await verifyNewStep(state);
    await writeStoresStep(state);
  } catch (error) {
    return resultFromState(command, state, await rollbackStep(state, describeStepError(error)));
  }
  return runFromConsumers(state, command);
}

export async function runFromConsumers(state: RunState, command: string): Promise<CommandResult> {
  const laggards = await awaitConsumersStep(state);
  if (laggards.length > 0) {
    // Promise 1: nothing is revoked while anyone may still use the old key.
    const outcome = {
      status: "awaiting-consumers" as const,
      exitCode: ExitCode.awaitingConsumers,
      error: `not every consumer uses the new key yet: ${laggards.join(", ")}; the old key was not revoked`,
      next: "fix those consumers, then `rotator resume` re-checks them and revokes the old key; or `rotator rollback` restores every store and deletes the new key",
    };
    state.journal.append({ event: "run-finished", ...outcome });
    state.context.reporter.warn(outcome.error);
    return resultFromState(command, state, outcome);
  }
  const strays = await storesStillHoldNewKey(state);
  if (strays.length > 0) {
    const outcome = {
      status: "failed" as const,
      exitCode: ExitCode.needsOperator,
      error: `not every store holds the new key any more: ${strays.join(", ")}; the old key was not revoked`,
      next: "put the new key back in those stores (or run `rotator rollback`), then `rotator resume` checks again and revokes",
    };
    state.journal.append({ event: "run-finished", ...outcome });
    state.context.reporter.warn(outcome.error);
    return resultFromState(command, state, outcome);
  }
  try {
    await revokeStep(state);
  } catch (error) {
    // Every store holds the new key and every consumer uses it; only the old key lingers. Not a rollback
    // case: resume retries the revoke.
    const outcome = {
      status: "failed" as const,
      exitCode: ExitCode.needsOperator,
      error: `revoking the old key failed: ${describeStepError(error)}`,
      next: "run `rotator resume` to retry the revoke (every store already holds the new key)",
    };
    state.journal.append({ event: "run-finished", ...outcome });
    return resultFromState(command, state, outcome);
  }
  return resultFromState(command, state, await finishStep(state));
}

function notDue(currentId: string): CommandResult {
  return {
    command: "rotate",
    status: "not-due",
    exitCode: ExitCode.completed,
    runId: null,
    oldKey: maskSid(currentId),
    newKey: null,
    stores: [],
    warnings: [],
  };
}
