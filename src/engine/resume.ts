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
import { rmSync } from "node:fs";
import { credentialId, type StoredCredential } from "../../providers/contract.js";
import { ExitCode, RotatorError } from "../errors.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { credentialKey, type EngineContext, storeRefs } from "./context.js";
import { isUnfinished, Journal, type JournalRecord, listRuns, processIdentity } from "./journal.js";
import { describeOwner, inspectLocks, lockPath, StoreLocks } from "./lock.js";
import { refuseOverlappingRun } from "./overlap.js";
import { type CommandResult, resultFromState } from "./result.js";
import { runFromConsumers, runFromVerify, unfinishedRunFor } from "./rotate.js";
import { describeStepError, newRunState, type RunState, rollbackStep } from "./steps.js";

type Of<E extends JournalRecord["event"]> = Extract<JournalRecord, { event: E }>;

function find<E extends JournalRecord["event"]>(records: JournalRecord[], event: E): Of<E> | undefined {
  return records.find((r) => r.event === event) as Of<E> | undefined;
}
function has(records: JournalRecord[], event: JournalRecord["event"]): boolean {
  return records.some((r) => r.event === event);
}

export async function resume(context: EngineContext): Promise<CommandResult> {
  const { stateDir, reporter } = context;
  const key = credentialKey(context);
  const run = unfinishedRunFor(stateDir, key);
  if (run === undefined) {
    refuseOverlappingRun(context, "resume");
    const cleared = clearLocksOfRunsWithNothingToFinish(context);
    reporter.step("nothing to resume: every run of this credential is finished");
    for (const line of cleared) reporter.info(line);
    return {
      command: "resume",
      status: "nothing-to-resume",
      exitCode: ExitCode.completed,
      runId: null,
      oldKey: null,
      newKey: null,
      stores: [],
      warnings: cleared,
    };
  }
  const lock = StoreLocks.acquire(
    stateDir,
    storeRefs(context),
    { runId: run.runId, command: "resume", configFile: context.loaded.file },
    { takeOverStale: true },
  );
  try {
    checkSameStores(context, run.started);
    const journal = Journal.reopen(stateDir, run.runId);
    journal.append({ event: "resume-started", ...processIdentity() });
    reporter.step(`resuming run ${run.runId} (journal ${journal.path})`);
    const state = rebuildState(context, journal, run.records);
    return await continueRun(state, run.records);
  } finally {
    lock.release();
  }
}

/**
 * A run killed during preflight (or between writing its outcome and releasing its locks) leaves stale
 * locks but no unfinished journal: it changed nothing, so there is nothing to resume, and its locks would
 * otherwise block every later rotate. Remove such locks, and say so.
 */
function clearLocksOfRunsWithNothingToFinish(context: EngineContext): string[] {
  const cleared: string[] = [];
  for (const { name, identity, lock } of inspectLocks(context.stateDir, storeRefs(context))) {
    if (lock.state !== "stale") continue;
    const runId = lock.owner?.runId;
    const journalled = runId === undefined ? undefined : listRuns(context.stateDir).find((r) => r.runId === runId);
    if (journalled !== undefined && isUnfinished(journalled)) continue;
    rmSync(lockPath(context.stateDir, identity), { force: true });
    cleared.push(
      `removed the stale lock of store ${name} left by ${describeOwner(lock.owner)}, which ${journalled === undefined ? "stopped before changing anything" : "had finished"}`,
    );
  }
  return cleared;
}

export function checkSameStores(context: EngineContext, started: Of<"run-started"> | undefined): void {
  const then = (started?.stores ?? []).map((s) => `${s.name}:${s.type}`).join(", ");
  const now = context.stores.map((s) => `${s.name}:${s.type}`).join(", ");
  if (then !== now) {
    throw new RotatorError(`the config's stores changed since the run started (then: ${then}; now: ${now})`, {
      exitCode: ExitCode.badInput,
      hint: "resume with the config the run started with",
    });
  }
}

export function rebuildState(context: EngineContext, journal: Journal, records: JournalRecord[]): RunState {
  const oldKeyId = find(records, "preflight-passed")?.oldKeyId || undefined;
  const state = newRunState(context, journal, undefined, []);
  state.oldKeyId = oldKeyId;
  state.newKeyId = find(records, "key-issued")?.newKeyId;
  for (const progress of state.stores) {
    const name = progress.provider.name;
    const prepared = records.find((r): r is Of<"store-prepared"> => r.event === "store-prepared" && r.store === name);
    progress.restorePoint = prepared?.restorePoint;
    progress.written = records.some((r) => r.event === "store-written" && r.store === name);
    if (progress.written) progress.outcome = "written";
  }
  return state;
}

async function continueRun(state: RunState, records: JournalRecord[]): Promise<CommandResult> {
  const { reporter } = state.context;
  if (has(records, "rollback-started")) {
    return resultFromState("resume", state, await rollbackStep(state, "finishing the interrupted rollback"));
  }
  if (has(records, "stores-committed")) {
    reporter.info("every store already holds the new key; carrying on with the revoke");
    return runFromConsumers(state, "resume");
  }
  if (state.newKeyId === undefined) {
    return resultFromState(
      "resume",
      state,
      await rollbackStep(state, "the run stopped before the new key was recorded"),
    );
  }

  const recovered = await recoverNewCredential(state);
  if (recovered === undefined) {
    return resultFromState(
      "resume",
      state,
      await rollbackStep(state, `no store holds the new key ${maskSid(state.newKeyId)}, so its secret is lost`),
    );
  }
  state.issued = recovered;
  try {
    await reconcileStores(state);
  } catch (error) {
    return resultFromState("resume", state, await rollbackStep(state, describeStepError(error)));
  }
  reporter.info(`recovered ${maskSid(state.newKeyId)} from a store; finishing the writes`);
  return runFromVerify(state, "resume");
}

/** The new secret exists only in memory and in the stores: read it back from any store that has it. */
async function recoverNewCredential(state: RunState): Promise<StoredCredential | undefined> {
  for (const progress of state.stores) {
    if (progress.restorePoint === undefined) continue;
    try {
      const snapshot = await progress.provider.read();
      const held = snapshot.credential;
      if (held !== undefined && credentialId(held) === state.newKeyId) {
        registerSecret(held.kind === "api-key" ? held.apiKeySecret : held.authToken);
        return held;
      }
    } catch {
      // An unreachable store can't help; try the next one. The write step will report it if it matters.
    }
  }
  return undefined;
}

/**
 * Before writing the rest: stores the crash left holding the new key count as written; stores not yet
 * prepared must still hold the old key (else someone changed them meanwhile, and we stop).
 */
async function reconcileStores(state: RunState): Promise<void> {
  for (const progress of state.stores) {
    if (progress.written) continue;
    const snapshot = await progress.provider.read();
    const heldId = snapshot.credential === undefined ? undefined : credentialId(snapshot.credential);
    if (heldId === state.newKeyId) {
      progress.written = true;
      progress.outcome = "written";
      state.journal.append({
        event: "store-written",
        store: progress.provider.name,
        version: snapshot.version ?? null,
      });
      continue;
    }
    if (progress.restorePoint === undefined && heldId !== state.oldKeyId) {
      throw new Error(
        `store "${progress.provider.name}" now holds ${maskSid(heldId)}, not the old key ${maskSid(state.oldKeyId)}: someone changed it during the interruption`,
      );
    }
    progress.expected = snapshot;
    if (state.old === undefined && snapshot.credential !== undefined && heldId === state.oldKeyId) {
      state.old = snapshot.credential;
    }
  }
}
