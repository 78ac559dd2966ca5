/**
 * The run machinery after preflight: steps 2-8 of the fixed order, entered from the top by `rotate` and
 * part-way by `resume`. Any failure before the revoke rolls back to exactly what the stores held.
 *
 * Interruptions (engine/interrupt.ts) are looked at between steps:
 * - before any store holds the new credential: undone at once (the new secret exists only in memory, so a
 *   later resume could only undo it too);
 * - after a store write, or while waiting for consumers: the run stops there, journaled `interrupted`, and
 *   `resume` carries it on (or `rollback` undoes it);
 * - a revoke or a rollback in progress is always finished: stopping half-way helps nobody.
 */
import { credentialTypeOf } from "../credentials/registry.js";
import { ExitCode, errorMessage } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { judgeAdminDependents } from "./admin-dependents.js";
import { canaryStep } from "./canary.js";
import type { EngineContext } from "./context.js";
import { interruptionRequested } from "./interrupt.js";
import { newCredentialIsDead, settleLostCredential } from "./lost-credential.js";
import { otherHolders, sharedCredentialError } from "./overlap.js";
import { type CommandResult, resultFromState } from "./result.js";
import {
  awaitConsumersStep,
  awaitSyncedStoresStep,
  describeStepError,
  discardStrayKeys,
  finishStep,
  issueStep,
  type RunOutcome,
  type RunState,
  revokeStep,
  rollbackStep,
  storesStillHoldNewKey,
  verifyNewStep,
  writeStoresStep,
} from "./steps.js";
import { slotStillOurs } from "./token-slot.js";

const interrupted = (context: EngineContext) => interruptionRequested(context.interruption);
/** "key" or "token": the credential type's word, so messages say what is rotated. */
const noun = (state: RunState) => state.context.issuer.labels.noun;

/** Steps 2-8: create the new credential, then everything after. */
export async function runFromIssue(state: RunState, command: string): Promise<CommandResult> {
  if (interrupted(state.context)) {
    return resultFromState(command, state, await undoInterrupted(state));
  }
  try {
    await issueStep(state);
  } catch (error) {
    // The key may exist even though the call failed (lost response): rollback searches by name.
    return resultFromState(
      command,
      state,
      await rollbackStep(state, `creating the new credential failed: ${describeStepError(error)}`),
    );
  }
  return runFromVerify(state, command);
}

/** Steps 3-8: the new credential exists (its secret in memory); verify it, write every store, go on. */
export async function runFromVerify(state: RunState, command: string): Promise<CommandResult> {
  await discardStrayKeys(state);
  try {
    if (interrupted(state.context) && !state.stores.some((store) => store.written)) {
      return resultFromState(command, state, await undoInterrupted(state));
    }
    await verifyNewStep(state);
    const written = await writeStoresStep(state, () => interrupted(state.context));
    if (written === "stopped") {
      // Nothing written yet: undo now. Part written: stop resumable (the written stores hold the secret).
      if (!state.stores.some((store) => store.written)) {
        return resultFromState(command, state, await undoInterrupted(state));
      }
      return resultFromState(command, state, await stopInterrupted(state, "while writing the stores"));
    }
  } catch (error) {
    return resultFromState(command, state, await rollbackStep(state, describeStepError(error)));
  }
  return runFromConsumers(state, command);
}

/**
 * Steps 5-8: every store rotator writes holds the new credential; wait for the stores others fill from them, the
 * consumers' canaries, then every consumer, and revoke the old one.
 */
export async function runFromConsumers(state: RunState, command: string): Promise<CommandResult> {
  const unsynced = await awaitSyncedStoresStep(state, "forward");
  if (unsynced.length > 0 && !state.mode.revokeImmediately) {
    if (interrupted(state.context)) {
      return resultFromState(command, state, await stopInterrupted(state, "while waiting for synced stores"));
    }
    // Promise 1 again: their readers may still be on the old credential.
    const outcome = {
      status: "awaiting-consumers" as const,
      exitCode: ExitCode.awaitingConsumers,
      error: `not every store holds the new ${noun(state)} yet: ${unsynced.join(", ")}; the old ${noun(state)} was not revoked`,
      next: `make the system that fills them catch up, then \`rotator resume\` checks again and carries on; or \`rotator rollback\` restores every store and deletes the new ${noun(state)}`,
    };
    await state.journal.append({ event: "run-finished", ...outcome });
    return resultFromState(command, state, outcome);
  }
  if (unsynced.length > 0) {
    warn(
      state,
      `revoking without waiting for synced stores (--revoke-immediately); not holding the new ${noun(state)} yet: ${unsynced.join(", ")}`,
    );
  }
  const canary = await canaryStep(state);
  if (canary.stopped) {
    return resultFromState(command, state, await stopInterrupted(state, "while waiting for a canary"));
  }
  if (canary.failed !== undefined) {
    // Nothing else was touched: every store goes back, and the canary with it.
    return resultFromState(command, state, await rollbackStep(state, canary.failed));
  }
  const laggards = await awaitConsumersStep(state);
  if (interrupted(state.context) && laggards.length > 0 && !state.mode.revokeImmediately) {
    return resultFromState(command, state, await stopInterrupted(state, "while waiting for consumers"));
  }
  if (laggards.length > 0 && state.mode.revokeImmediately) {
    // The operator traded availability for security (a leak): the old credential goes now, and these
    // consumers will get 20003 until they pick the new one up.
    warn(
      state,
      `revoking without waiting for consumers (--revoke-immediately); not using the new ${noun(state)} yet: ${laggards.join(", ")}`,
    );
  } else if (laggards.length > 0) {
    // Promise 1: nothing is revoked while anyone may still use the old credential.
    const outcome = {
      status: "awaiting-consumers" as const,
      exitCode: ExitCode.awaitingConsumers,
      error: `not every consumer uses the new ${noun(state)} yet: ${laggards.join(", ")}; the old ${noun(state)} was not revoked`,
      next: `fix those consumers, then \`rotator resume\` re-checks them and revokes the old ${noun(state)} (\`--drop-consumer NAME\` for one that is gone for good); or \`rotator rollback\` restores every store and deletes the new ${noun(state)}`,
    };
    await state.journal.append({ event: "run-finished", ...outcome });
    return resultFromState(command, state, outcome);
  }
  const strays = await storesStillHoldNewKey(state);
  if (strays.length > 0) {
    const outcome = {
      status: "failed" as const,
      exitCode: ExitCode.needsOperator,
      error: `not every store holds the new ${noun(state)} any more: ${strays.join(", ")}; the old ${noun(state)} was not revoked`,
      next: `put the new ${noun(state)} back in those stores (or run \`rotator rollback\`), then \`rotator resume\` checks again and revokes`,
    };
    await state.journal.append({ event: "run-finished", ...outcome });
    state.context.reporter.warn(outcome.error);
    return resultFromState(command, state, outcome);
  }
  if (state.mode.kind === "sync") {
    // A sync puts the supplied credential everywhere; nothing of Twilio's changes.
    return resultFromState(command, state, await finishStep(state));
  }
  // Promise 1 once more, just before the revoke: the new credential must still be alive (an account's secondary
  // can be replaced from anywhere), the account's token slot still this run's, no other config's store on the old.
  if (await newCredentialIsDead(state)) return resultFromState(command, state, await settleLostCredential(state));
  const refused = (await slotStillOurs(state)) ?? (await sharedHoldersBeforeRevoke(state));
  if (refused !== undefined) return resultFromState(command, state, refused);
  try {
    await revokeStep(state);
    await reportAdminDependents(state);
  } catch (error) {
    // Every store holds the new credential and every consumer uses it; only the old one lingers. Not a
    // rollback case: resume retries the revoke.
    const outcome = {
      status: "failed" as const,
      exitCode: ExitCode.needsOperator,
      error: `revoking the old ${noun(state)} failed: ${describeStepError(error)}`,
      next: `run \`rotator resume\` to retry the revoke (every store already holds the new ${noun(state)})`,
    };
    await state.journal.append({ event: "run-finished", ...outcome });
    return resultFromState(command, state, outcome);
  }
  return resultFromState(command, state, await finishStep(state));
}

/**
 * The cross-config check again, just before the revoke: a config sharing a store may have become known since
 * rotate's preflight (one refused at the lock meanwhile, or while this run awaited its consumers). Revoking
 * would strand its other stores: nothing is revoked, and the run stays unfinished for the operator to decide.
 */
async function sharedHoldersBeforeRevoke(state: RunState): Promise<RunOutcome | undefined> {
  if (state.oldId === undefined || state.mode.allowSharedRevoke) return undefined;
  let holders: Awaited<ReturnType<typeof otherHolders>>;
  try {
    holders = await otherHolders(state.context, state.oldId);
  } catch (error) {
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error: `could not check which other configs hold the old ${noun(state)} ${maskSid(state.oldId)}: ${errorMessage(error)}; it was not revoked`,
      next: `\`rotator resume\` checks again and revokes (every store already holds the new ${noun(state)})`,
    };
    await state.journal.append({ event: "run-finished", ...outcome });
    return outcome;
  }
  if (holders.length === 0) return undefined;
  const refusal = sharedCredentialError(holders, state.oldId);
  const outcome: RunOutcome = {
    status: "failed",
    exitCode: ExitCode.unfinishedRun,
    error: `${refusal.message}; it was not revoked`,
    next: `every store of this config holds the new ${noun(state)}, and the old one is still valid: \`rotator resume --allow-shared-revoke\` revokes it once you have checked those stores (or rotate them with this config), or \`rotator rollback\` undoes the run`,
  };
  await state.journal.append({ event: "run-finished", ...outcome });
  state.context.reporter.warn(outcome.error as string);
  return outcome;
}

/** After a promote: which other configs of the account held the old token as their admin, and now a dead one. */
async function reportAdminDependents(state: RunState): Promise<void> {
  if (!credentialTypeOf(state.context.issuer.kind).accountToken) return;
  const dependents = await judgeAdminDependents(state).catch((error: unknown) => {
    warn(state, `could not check which other configs use this account's token as their admin: ${errorMessage(error)}`);
    return [];
  });
  if (dependents.length === 0) return;
  state.adminDependents = dependents;
  for (const dependent of dependents) {
    if (dependent.deadAdmin === false) continue;
    warn(
      state,
      `config ${dependent.config} uses this account's Auth Token as its admin credential (${dependent.admin}): ${dependent.detail}`,
    );
  }
}

function warn(state: RunState, warning: string): void {
  state.warnings.push(warning);
  state.context.reporter.warn(warning);
}

/** Undo a run interrupted before any store held the new credential; it ends rolled back, exit 130. */
async function undoInterrupted(state: RunState): Promise<RunOutcome> {
  const reason = `interrupted by ${state.context.interruption?.signal ?? "a signal"} before any store held the new ${noun(state)}`;
  const outcome = await rollbackStep(state, reason);
  if (outcome.status !== "rolled-back") return outcome;
  return { ...outcome, exitCode: ExitCode.interrupted, next: "nothing is left to do; `rotator rotate` starts again" };
}

/** Stop between steps on a signal: journaled as interrupted, so `resume` carries the run on. */
async function stopInterrupted(state: RunState, where: string): Promise<RunOutcome> {
  const outcome: RunOutcome = {
    status: "interrupted",
    exitCode: ExitCode.interrupted,
    error: `interrupted by ${state.context.interruption?.signal ?? "a signal"} ${where}; the old ${noun(state)} was not revoked`,
    next: "`rotator resume` carries the run on from here; `rotator rollback` undoes it",
  };
  await state.journal.append({ event: "run-finished", ...outcome });
  return outcome;
}
