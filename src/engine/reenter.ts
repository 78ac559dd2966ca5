/**
 * Re-entering a journaled run (`resume`, `rollback`). Every decision about the run is taken from a journal
 * read *after* this command holds the locks of every store: a decision from an earlier read could be stale
 * by the time the locks are held (another resume may have finished the run and revoked the old key in
 * between, and a rollback acting on the earlier read would then restore a revoked key).
 */
import { credentialId, type StoredCredential } from "../../providers/contract.js";
import { ExitCode, RotatorError } from "../errors.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { claimRecord, claimStores, releaseClaims } from "./claims.js";
import { type EngineContext, ownsRun } from "./context.js";
import { failpoint, pausepoint } from "./failpoint.js";
import { type CommandResult, resultFromState } from "./result.js";
import { runFromConsumers, runFromVerify } from "./run.js";
import { describeStepError, newRunState, type RunMode, type RunState, rollbackStep } from "./steps.js";

type Of<E extends JournalRecord["event"]> = Extract<JournalRecord, { event: E }>;

function find<E extends JournalRecord["event"]>(records: JournalRecord[], event: E): Of<E> | undefined {
  return records.find((r) => r.event === event) as Of<E> | undefined;
}
function has(records: JournalRecord[], event: JournalRecord["event"]): boolean {
  return records.some((r) => r.event === event);
}

import { isUnfinished, type JournalRecord, processIdentity, type RunSummary } from "./journal.js";
import type { RunJournal } from "./state/backend.js";
import { stateOf } from "./state/index.js";

/** The newest unfinished run of this config, read now. */
export async function unfinishedRunFor(
  context: Pick<EngineContext, "stateDir" | "state" | "credentialKey" | "legacyCredentialKeys">,
): Promise<RunSummary | undefined> {
  return (await stateOf(context).listRuns())
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
  const hint = await unfinishedRunFor(context);
  await pausepoint(`before-lock:${command}`, context.env);
  const lock = await stateOf(context).acquireLocks(
    context.refs,
    { runId: hint?.runId ?? `${command}-${process.pid}`, command, configFile: context.loaded.file },
    { takeOverStale: true },
  );
  try {
    failpoint(`after-lock:${command}`, context.env);
    await pausepoint(`after-lock:${command}`, context.env);
    const run = await unfinishedRunFor(context);
    if (run === undefined) return await body(undefined);
    await claimStores(context, claimRecord(context, run.runId, run.started?.configFile));
    try {
      return await body(run);
    } finally {
      await releaseClaimsIfOver(context, run.runId);
    }
  } finally {
    await lock.release();
  }
}

/** Drop a run's claims when its journal says it is over (completed, rolled back, or nothing left to do). */
export async function releaseClaimsIfOver(
  context: Pick<EngineContext, "refs" | "stateDir" | "state">,
  runId: string,
): Promise<void> {
  // No journal: the run never started (it died or was refused in preflight).
  const run = await stateOf(context).readRun(runId);
  if (run === undefined || !isUnfinished(run)) releaseClaims(context.refs, runId);
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
export async function reopenJournal(context: EngineContext, run: RunSummary): Promise<RunJournal> {
  checkSameStores(context, run.started);
  const journal = await stateOf(context).reopenJournal(run.runId, context.issuer.labels.word);
  await journal.append({ event: "resume-started", ...processIdentity() });
  return journal;
}

export function rebuildState(context: EngineContext, journal: RunJournal, records: JournalRecord[]): RunState {
  const oldId = find(records, "preflight-passed")?.oldId || undefined;
  const started = find(records, "run-started");
  const mode: RunMode = {
    kind: started?.mode ?? "rotate",
    emergency: started?.emergency ?? started?.command.includes("--emergency") ?? false,
    revokeImmediately: started?.revokeImmediately ?? false,
  };
  const state = newRunState(context, journal, undefined, [], mode);
  state.oldId = oldId;
  state.newId = find(records, "credential-issued")?.newId ?? find(records, "credential-supplied")?.newId;
  for (const progress of state.stores) {
    const name = progress.provider.name;
    const prepared = records.find((r): r is Of<"store-prepared"> => r.event === "store-prepared" && r.store === name);
    progress.restorePoint = prepared?.restorePoint;
    progress.written = records.some((r) => r.event === "store-written" && r.store === name);
    if (progress.written) progress.outcome = "written";
  }
  return state;
}

/**
 * Carry a journaled run on from where its journal (read now, under the locks) says it stopped:
 *
 * - stopped before the credential existed, or the new secret is in no store: roll back (delete it, found by
 *   id or by the run's friendly name): nothing was written, or nothing can be finished;
 * - stopped while writing stores: recover the new secret from a store that holds it, check it still
 *   authenticates, write the remaining stores, then carry on to the revoke;
 * - stopped during a rollback: finish the rollback (every provider's rollback is idempotent);
 * - stopped after every store was written: carry on with consumers and the revoke.
 */
export async function continueJournaledRun(
  context: EngineContext,
  journal: RunJournal,
  command: string,
): Promise<CommandResult> {
  const records = await journal.records();
  const state = rebuildState(context, journal, records);
  return continueRun(state, records, command);
}

async function continueRun(state: RunState, records: JournalRecord[], command: string): Promise<CommandResult> {
  const { reporter } = state.context;
  if (has(records, "rollback-started")) {
    return resultFromState(command, state, await rollbackStep(state, "finishing the interrupted rollback"));
  }
  if (has(records, "stores-committed")) {
    reporter.info(`every store already holds the new ${state.context.issuer.labels.noun}; carrying on with the revoke`);
    // Known again, so an issuer whose admin was the rotated token can go on with this one (after a promote).
    state.issued = await recoverNewCredential(state);
    return runFromConsumers(state, command);
  }
  if (state.newId === undefined) {
    return resultFromState(
      command,
      state,
      await rollbackStep(state, `the run stopped before the new ${state.context.issuer.labels.noun} was recorded`),
    );
  }

  const recovered = await recoverNewCredential(state);
  if (recovered === undefined) {
    return resultFromState(
      command,
      state,
      await rollbackStep(
        state,
        `no store holds the new ${state.context.issuer.labels.noun} ${maskSid(state.newId)}, so its secret is lost`,
      ),
    );
  }
  state.issued = recovered;
  try {
    await reconcileStores(state);
  } catch (error) {
    return resultFromState(command, state, await rollbackStep(state, describeStepError(error)));
  }
  reporter.info(`recovered ${maskSid(state.newId)} from a store; finishing the writes`);
  return runFromVerify(state, command);
}

/** The new secret exists only in memory and in the stores: read it back from any store that has it. */
async function recoverNewCredential(state: RunState): Promise<StoredCredential | undefined> {
  for (const progress of state.stores) {
    if (progress.restorePoint === undefined) continue;
    try {
      const snapshot = await progress.provider.read();
      const held = snapshot.credential;
      if (held !== undefined && credentialId(held) === state.newId) {
        registerSecret(held.kind === "api-key" ? held.apiKeySecret : held.authToken);
        state.context.issuer.adoptNew(held);
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
    // A store others fill is never written: runFromConsumers waits for it.
    if (progress.written || progress.provider.sync !== undefined) continue;
    const snapshot = await progress.provider.read();
    const heldId = snapshot.credential === undefined ? undefined : credentialId(snapshot.credential);
    if (heldId === state.newId) {
      progress.written = true;
      progress.outcome = "written";
      await state.journal.append({
        event: "store-written",
        store: progress.provider.name,
        version: snapshot.version ?? null,
      });
      continue;
    }
    if (progress.restorePoint === undefined && heldId !== state.oldId) {
      throw new Error(
        `store "${progress.provider.name}" now holds ${maskSid(heldId)}, not the old ${state.context.issuer.labels.noun} ${maskSid(state.oldId)}: someone changed it during the interruption`,
      );
    }
    progress.expected = snapshot;
    if (state.old === undefined && snapshot.credential !== undefined && heldId === state.oldId) {
      state.old = snapshot.credential;
    }
  }
}
