/**
 * What each step of the table (step-table.ts) does, and when it ends the run: a step returns undefined to go
 * on, or the run's outcome, which the runner journals (runner.ts). Any failure before the revoke rolls back to
 * exactly what the stores held.
 *
 * Interruptions (engine/interrupt.ts) are looked at between steps:
 * - before any store holds the new credential: undone at once (the new secret exists only in memory, so a
 *   later resume could only undo it too);
 * - after a store write, or while waiting for consumers: the run stops there, journaled `interrupted`, and
 *   `resume` carries it on (or `rollback` undoes it);
 * - a revoke or a rollback in progress is always finished: stopping half-way helps nobody.
 */
import type { IssuedCredential } from "../credentials/issuer.js";
import { ExitCode, errorMessage, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { judgeAdminDependents } from "./admin-dependents.js";
import { canaryStep } from "./canary.js";
import type { EngineContext } from "./context.js";
import { failpoint } from "./failpoint.js";
import { interruptionRequested } from "./interrupt.js";
import { newCredentialIsDead, settleLostCredential } from "./lost-credential.js";
import { otherHolders, sharedCredentialError } from "./overlap.js";
import {
  expectedOf,
  keepPrevious,
  retirePending,
  retireStarting,
  retireStep,
  signingLagStep,
  undoRetire,
} from "./retire.js";
import type { JournaledRun } from "./runner.js";
import {
  awaitConsumersStep,
  awaitSyncedStoresStep,
  describeStepError,
  discardStrayKeys,
  finishStep,
  issueStarting,
  issueStep,
  type Revoked,
  type RunOutcome,
  type RunState,
  reportIssued,
  reportRevoked,
  revokeStarting,
  revokeStep,
  rollbackStep,
  storesStillHoldNewKey,
  verifyNewStep,
  writeStoresStep,
} from "./steps.js";
import { handOverRefusingStore } from "./store-failure.js";
import { claimTokenSlot, slotStillOurs } from "./token-slot.js";

/** A step's run: undefined to go on to the next step, or the outcome the run ends with. */
export type StepRun = (state: RunState) => Promise<RunOutcome | undefined>;

const interrupted = (context: EngineContext) => interruptionRequested(context.interruption);
/** "key" or "token": the credential type's word, so messages say what is rotated. */
const noun = (state: RunState) => state.context.issuer.labels.noun;

/** The account's secondary-token slot, claimed where every config and host of the account sees it. */
export const claimSlot: StepRun = async (state) => {
  try {
    await claimTokenSlot(state.context, state.journal.runId, state.journal);
    return undefined;
  } catch (error) {
    // Refused (another run holds the slot), or Twilio would not list or make the claim: nothing was created.
    const refusal = error instanceof RotatorError ? error : undefined;
    return {
      status: "failed",
      exitCode: refusal?.exitCode ?? ExitCode.badInput,
      error: `${refusal?.message ?? `could not claim the account's Auth Token slot: ${errorMessage(error)}`}; nothing was created`,
      hint: refusal?.hint ?? "run again once Twilio accepts the admin credential (`rotator plan` shows what is wrong)",
    };
  }
};

/** Create the new credential; the runner journals `issue-started` before and `credential-issued` after. */
export const issue: JournaledRun<"issue-started", "credential-issued", IssuedCredential> = {
  begin: async (state) =>
    interrupted(state.context) ? { outcome: await undoInterrupted(state) } : { start: issueStarting(state) },
  body: issueStep,
  end: (_state, issued) => ({ newId: issued.id, createdAt: issued.createdAt.toISOString() }),
  after: async (state, issued) => {
    reportIssued(state, issued);
    return undefined;
  },
  // The key may exist even though the call failed (lost response): rollback searches by name.
  failed: (state, error) => rollbackStep(state, `creating the new credential failed: ${describeStepError(error)}`),
};

/** The new credential exists (its secret in memory): drop stray copies of it, and check it authenticates. */
export const verify: StepRun = async (state) => {
  await discardStrayKeys(state);
  try {
    if (interrupted(state.context) && !state.stores.some((store) => store.written)) return undoInterrupted(state);
    await verifyNewStep(state);
    return undefined;
  } catch (error) {
    return rollbackStep(state, describeStepError(error));
  }
};

/** Write every store rotator writes, in order (with the previous credential beside the new one, for a type that keeps it). */
export const writeStores: StepRun = async (state) => {
  try {
    await keepPrevious(state);
    const written = await writeStoresStep(state, () => interrupted(state.context));
    if (written === "committed") return undefined;
    // Nothing written yet: undo now. Part written: stop resumable (the written stores hold the secret).
    if (!state.stores.some((store) => store.written)) return undoInterrupted(state);
    return stopInterrupted(state, "while writing the stores");
  } catch (error) {
    await handOverRefusingStore(state, error);
    return rollbackStep(state, describeStepError(error));
  }
};

/** The stores others fill from the written ones: wait until they hold the new credential too. */
export const awaitSyncedStores: StepRun = async (state) => {
  const unsynced = await awaitSyncedStoresStep(state, "forward");
  if (unsynced.length === 0) return undefined;
  if (state.mode.revokeImmediately) {
    warn(
      state,
      `revoking without waiting for synced stores (--revoke-immediately); not holding the new ${noun(state)} yet: ${unsynced.join(", ")}`,
    );
    return undefined;
  }
  if (interrupted(state.context)) return stopInterrupted(state, "while waiting for synced stores");
  // Promise 1 again: their readers may still be on the old credential.
  return {
    status: "awaiting-consumers",
    exitCode: ExitCode.awaitingConsumers,
    error: `not every store holds the new ${noun(state)} yet: ${unsynced.join(", ")}; the old ${noun(state)} was not revoked`,
    next: `make the system that fills them catch up, then \`rotator resume\` checks again and carries on; or \`rotator rollback\` restores every store and deletes the new ${noun(state)}`,
  };
};

/** Each consumer's canary, before any other instance is touched. */
export const canary: StepRun = async (state) => {
  const outcome = await canaryStep(state, expectedOf(state));
  if (outcome.stopped) return stopInterrupted(state, "while waiting for a canary");
  // Nothing else was touched: every store goes back, and the canary with it.
  if (outcome.failed !== undefined) return rollbackStep(state, outcome.failed);
  return undefined;
};

/** Every consumer uses the new credential (or, with --revoke-immediately, was asked once). */
export const awaitConsumers: StepRun = async (state) => {
  const laggards = await awaitConsumersStep(state, expectedOf(state));
  if (laggards.length === 0) return undefined;
  if (state.mode.revokeImmediately) {
    // The operator traded availability for security (a leak): the old credential goes now, and these
    // consumers will get 20003 until they pick the new one up.
    warn(
      state,
      `revoking without waiting for consumers (--revoke-immediately); not using the new ${noun(state)} yet: ${laggards.join(", ")}`,
    );
    return undefined;
  }
  if (interrupted(state.context)) return stopInterrupted(state, "while waiting for consumers");
  // Promise 1: nothing is revoked while anyone may still use the old credential.
  return {
    status: "awaiting-consumers",
    exitCode: ExitCode.awaitingConsumers,
    error: `not every consumer uses the new ${noun(state)} yet: ${laggards.join(", ")}; the old ${noun(state)} was not revoked`,
    next: `fix those consumers, then \`rotator resume\` re-checks them and revokes the old ${noun(state)} (\`--drop-consumer NAME\` for one that is gone for good); or \`rotator rollback\` restores every store and deletes the new ${noun(state)}`,
  };
};

/** Every store still holds the new credential (anything may have changed one while the run waited). */
export const checkStores: StepRun = async (state) => {
  const strays = await storesStillHoldNewKey(state);
  if (strays.length === 0) return undefined;
  const error = `not every store holds the new ${noun(state)} any more: ${strays.join(", ")}; the old ${noun(state)} was not revoked`;
  state.context.reporter.warn(error);
  return {
    status: "failed",
    exitCode: ExitCode.needsOperator,
    error,
    next: `put the new ${noun(state)} back in those stores (or run \`rotator rollback\`), then \`rotator resume\` checks again and revokes`,
  };
};

/** Promise 1 once more, just before the revoke: the new credential must still be alive (replaced from anywhere). */
export const newStillAlive: StepRun = async (state) =>
  (await newCredentialIsDead(state)) ? settleLostCredential(state) : undefined;

/** Just before the promote: the account's token slot is still this run's. */
export const slotStillClaimed: StepRun = (state) => slotStillOurs(state);

/**
 * The cross-config check again, just before the revoke: a config sharing a store may have become known since
 * rotate's preflight (one refused at the lock meanwhile, or while this run awaited its consumers). Revoking
 * would strand its other stores: nothing is revoked, and the run stays unfinished for the operator to decide.
 */
export const noOtherHolders: StepRun = async (state) => {
  if (state.oldId === undefined || state.mode.allowSharedRevoke) return undefined;
  let holders: Awaited<ReturnType<typeof otherHolders>>;
  try {
    holders = await otherHolders(state.context, state.oldId);
  } catch (error) {
    return {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error: `could not check which other configs hold the old ${noun(state)} ${maskSid(state.oldId)}: ${errorMessage(error)}; it was not revoked`,
      next: `\`rotator resume\` checks again and revokes (every store already holds the new ${noun(state)})`,
    };
  }
  if (holders.length === 0) return undefined;
  const refusal = sharedCredentialError(holders, state.oldId);
  const error = `${refusal.message}; it was not revoked`;
  state.context.reporter.warn(error);
  return {
    status: "failed",
    exitCode: ExitCode.unfinishedRun,
    error,
    next: `every store of this config holds the new ${noun(state)}, and the old one is still valid: \`rotator resume --allow-shared-revoke\` revokes it once you have checked those stores (or rotate them with this config), or \`rotator rollback\` undoes the run`,
  };
};

/**
 * Revoke the old credential (an Auth Token's: promote the new one), then say whose admin it was; the runner
 * journals `revoke-started` before and `old-credential-revoked` after (nothing when there is no old one).
 */
export const revoke: JournaledRun<"revoke-started", "old-credential-revoked", Revoked> = {
  begin: async (state) => {
    const start = revokeStarting(state);
    if (start !== undefined) return { start };
    try {
      await reportAdminDependents(state);
      return { outcome: undefined };
    } catch (error) {
      return { outcome: revokeFailed(state, error) };
    }
  },
  body: revokeStep,
  end: (_state, { oldId, outcome, refused }) => ({ oldId, outcome, refusedWith20003: refused === true }),
  after: async (state, revoked) => {
    reportRevoked(state, revoked);
    await reportAdminDependents(state);
    return undefined;
  },
  failed: async (state, error) => revokeFailed(state, error),
};

/**
 * Every store holds the new credential and every consumer uses it; only the old one lingers. Not a rollback case:
 * resume retries the revoke.
 */
function revokeFailed(state: RunState, error: unknown): RunOutcome {
  return {
    status: "failed",
    exitCode: ExitCode.needsOperator,
    error: `revoking the old ${noun(state)} failed: ${describeStepError(error)}`,
    next: `run \`rotator resume\` to retry the revoke (every store already holds the new ${noun(state)})`,
  };
}

/**
 * After the revoke (a promote), for a run whose stores keep the previous credential: wait out the time it is kept
 * (the signing lag; none in an emergency), as the journal dates the revoke.
 */
export const signingLag: StepRun = async (state) => {
  if (await signingLagStep(state)) return undefined;
  return {
    status: "interrupted",
    exitCode: ExitCode.interrupted,
    error: `interrupted by ${state.context.interruption?.signal ?? "a signal"} while the stores keep the previous ${noun(state)}; the old ${noun(state)} ${maskSid(state.oldId)} was revoked, and every store holds the new one`,
    next: retireNext(state),
  };
};

/**
 * Retire the previous credential from every store: a second all-or-nothing write, which the runner journals
 * `retire-started` before and `previous-retired` after.
 */
export const retirePrevious: JournaledRun<"retire-started", "previous-retired", string> = {
  begin: async (state) => {
    const start = retirePending(state) ? retireStarting(state) : undefined;
    return start === undefined ? { outcome: undefined } : { start };
  },
  body: retireStep,
  end: (_state, previousId) => ({ previousId }),
  after: async (state) => {
    failpoint("after-retire-commit", state.context.env);
    return undefined;
  },
  failed: undoRetire,
};

/**
 * The stores others fill from the retired ones: wait until they no longer hold the previous credential either (an
 * app reading one would keep trusting it), as the first write waits for them to hold the new one.
 */
export const awaitSyncedRetired: StepRun = async (state) => {
  if (state.kept === undefined) return undefined;
  const unsynced = await awaitSyncedStoresStep(state, "retired");
  if (unsynced.length === 0) return undefined;
  const retired = `the previous ${noun(state)} ${maskSid(state.kept.previousId)}`;
  if (state.mode.revokeImmediately) {
    warn(state, `not waiting for synced stores to drop ${retired} (--revoke-immediately): ${unsynced.join(", ")}`);
    return undefined;
  }
  if (interrupted(state.context)) {
    return stopInterrupted(state, `while waiting for synced stores to drop ${retired}`, "retired");
  }
  return {
    status: "awaiting-consumers",
    exitCode: ExitCode.awaitingConsumers,
    error: `${retired} is retired from every store rotator writes, but not every store filled from them dropped it yet: ${unsynced.join(", ")}`,
    next: "make the system that fills them catch up, then `rotator resume` checks them again and carries on",
  };
};

/** Consumers validate webhooks with the new credential only (the previous one retired from every store). */
export const awaitRetired: StepRun = async (state) => {
  if (state.kept === undefined) return undefined;
  const laggards = await awaitConsumersStep(state, expectedOf(state, "retired"));
  if (laggards.length === 0) return undefined;
  const retired = maskSid(state.kept.previousId);
  if (state.mode.revokeImmediately) {
    warn(
      state,
      `not waiting for consumers to stop validating webhooks with ${retired} (--revoke-immediately): ${laggards.join(", ")}`,
    );
    return undefined;
  }
  if (interrupted(state.context))
    return stopInterrupted(state, "while waiting for consumers to drop the previous token", "retired");
  // The old token no longer authenticates: an app still accepting webhooks signed with it accepts forgeries of it.
  return {
    status: "awaiting-consumers",
    exitCode: ExitCode.awaitingConsumers,
    error: `the previous ${noun(state)} ${retired} is retired from every store, but not every consumer stopped validating webhooks with it: ${laggards.join(", ")}`,
    next: "make those consumers re-read their store (reload or restart them), then `rotator resume` checks them again",
  };
};

/** Drop the restore points: the run is complete. */
export const finish: StepRun = (state) => finishStep(state);

/** What `resume` does for a run stopped after the revoke with the previous credential still in the stores. */
function retireNext(state: RunState): string {
  return `\`rotator resume\` retires the previous ${noun(state)} ${maskSid(state.kept?.previousId)} from every store (it no longer authenticates with Twilio; apps may still accept webhooks signed with it until then)`;
}

/** After a promote: which other configs of the account held the old token as their admin, and now a dead one. */
async function reportAdminDependents(state: RunState): Promise<void> {
  if (state.context.issuer.marks === undefined) return;
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
function stopInterrupted(
  state: RunState,
  where: string,
  after: "before-revoke" | "retired" = "before-revoke",
): RunOutcome {
  if (after === "retired") {
    return {
      status: "interrupted",
      exitCode: ExitCode.interrupted,
      error: `interrupted by ${state.context.interruption?.signal ?? "a signal"} ${where}; the previous ${noun(state)} is retired from every store`,
      next: "`rotator resume` checks the consumers again",
    };
  }
  return {
    status: "interrupted",
    exitCode: ExitCode.interrupted,
    error: `interrupted by ${state.context.interruption?.signal ?? "a signal"} ${where}; the old ${noun(state)} was not revoked`,
    next: "`rotator resume` carries the run on from here; `rotator rollback` undoes it",
  };
}
