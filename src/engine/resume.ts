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
import { credentialId, type StoredCredential } from "../../providers/contract.js";
import { ExitCode } from "../errors.js";
import { maskSid, registerSecret } from "../util/mask.js";
import type { EngineContext } from "./context.js";
import { isUnfinished, type Journal, type JournalRecord, listRuns } from "./journal.js";
import { describeOwner, inspectLocks } from "./lock.js";
import { refuseOverlappingRun } from "./overlap.js";
import { reopenJournal, underLocks } from "./reenter.js";
import { type CommandResult, resultFromState } from "./result.js";
import { runFromConsumers, runFromVerify } from "./rotate.js";
import { describeStepError, newRunState, type RunState, rollbackStep } from "./steps.js";

type Of<E extends JournalRecord["event"]> = Extract<JournalRecord, { event: E }>;

function find<E extends JournalRecord["event"]>(records: JournalRecord[], event: E): Of<E> | undefined {
  return records.find((r) => r.event === event) as Of<E> | undefined;
}
function has(records: JournalRecord[], event: JournalRecord["event"]): boolean {
  return records.some((r) => r.event === event);
}

export async function resume(context: EngineContext): Promise<CommandResult> {
  const { reporter } = context;
  // Read before the locks only to say which stale locks this resume clears; nothing is decided from it.
  const staleBefore = staleLocksOfRunsWithNothingToFinish(context);
  return underLocks(context, "resume", async (run) => {
    if (run === undefined) {
      refuseOverlappingRun(context, "resume");
      reporter.step("nothing to resume: every run of this credential is finished");
      for (const line of staleBefore) reporter.info(line);
      return {
        command: "resume",
        status: "nothing-to-resume",
        exitCode: ExitCode.completed,
        runId: null,
        oldKey: null,
        newKey: null,
        stores: [],
        warnings: staleBefore,
      };
    }
    const journal = reopenJournal(context, run);
    reporter.step(`resuming run ${run.runId} (journal ${journal.path})`);
    // The records as they are now, under the locks: the run's state is rebuilt from these alone.
    const records = journal.records();
    const state = rebuildState(context, journal, records);
    return continueRun(state, records);
  });
}

/**
 * A run killed during preflight (or between writing its outcome and releasing its locks) leaves stale
 * locks but no unfinished journal: it changed nothing, so there is nothing to resume, and its locks would
 * otherwise block every later rotate. Resume takes such locks over (and releases them); these lines say so.
 */
function staleLocksOfRunsWithNothingToFinish(context: EngineContext): string[] {
  const lines: string[] = [];
  for (const { name, lock } of inspectLocks(context.stateDir, context.refs)) {
    if (lock.state !== "stale") continue;
    const runId = lock.owner?.runId;
    const journalled = runId === undefined ? undefined : listRuns(context.stateDir).find((r) => r.runId === runId);
    if (journalled !== undefined && isUnfinished(journalled)) continue;
    lines.push(
      `removed the stale lock of store ${name} left by ${describeOwner(lock.owner)}, which ${journalled === undefined ? "stopped before changing anything" : "had finished"}`,
    );
  }
  return lines;
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
