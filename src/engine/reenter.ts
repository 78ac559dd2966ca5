/**
 * Re-entering a journaled run (`resume`, `rollback`). Every decision about the run is taken from a journal
 * read *after* this command holds the locks of every store: a decision from an earlier read could be stale
 * by the time the locks are held (another resume may have finished the run and revoked the old key in
 * between, and a rollback acting on the earlier read would then restore a revoked key).
 */
import type { StoredCredential } from "../../providers/contract.js";
import { StoreError } from "../../providers/errors.js";
import { credentialId, secretsOf, withoutPrevious } from "../credentials/stored.js";
import { ExitCode, RotatorError } from "../errors.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { claimRecord, claimStores, releaseClaims } from "./claims.js";
import { type EngineContext, ownsRun } from "./context.js";
import { type BoundRun, bindRun } from "./facts.js";
import { failpoint, pausepoint } from "./failpoint.js";
import { requireReachableStores } from "./fence.js";
import { noteThisConfig } from "./known-configs.js";
import { newCredentialIsDead, settleLostCredential } from "./lost-credential.js";
import { type CommandResult, resultFromState } from "./result.js";
import { runSteps } from "./runner.js";
import { resumeEntry, rollbackSteps, type Step } from "./step-table.js";
import { describeStepError, newRunState, type RunMode, type RunOutcome, type RunState, rollbackStep } from "./steps.js";
import { handOverRefusingStore } from "./store-failure.js";
import { lockRefs, registerTokenConfig } from "./token-slot.js";

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
  await noteThisConfig(context);
  await registerTokenConfig(context);
  await pausepoint(`before-lock:${command}`, context.env);
  const lock = await stateOf(context).acquireLocks(
    lockRefs(context),
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

/**
 * Re-enter a journaled run: bind it to its facts (facts.ts: the context it is carried on with, and how the
 * invoked config differs), reopen its journal, and record who re-entered it, what differs and which consumers
 * the operator dropped. The caller closes `bound` when done.
 */
export async function enterRun(
  context: EngineContext,
  run: RunSummary,
  command: "resume" | "rollback",
  dropConsumers: readonly string[] = [],
): Promise<{ bound: BoundRun; journal: RunJournal }> {
  const bound = await bindRun(context, run, dropConsumers);
  try {
    // Every store of the run must answer first: a rollback or resume that stops half-way helps nobody.
    await requireReachableStores(bound.context, run, command);
    const journal = await stateOf(context).reopenJournal(run.runId, bound.context.issuer.labels.word);
    await journal.append({
      event: "resume-started",
      ...processIdentity(),
      configFile: context.loaded.file,
      ...(bound.differences.length === 0 ? {} : { differences: bound.differences }),
    });
    if (bound.droppedNow.length > 0) {
      await journal.append({ event: "consumers-dropped", names: bound.droppedNow, command });
    }
    for (const line of bound.differences) context.reporter.warn(line);
    return { bound, journal };
  } catch (error) {
    await bound.close();
    throw error;
  }
}

/** `--drop-consumer` with no unfinished run to drop it from: bad input, nothing done. */
export function nothingToDropFrom(command: "resume" | "rollback"): RotatorError {
  return new RotatorError(`--drop-consumer: there is no unfinished run of this config to ${command}`, {
    exitCode: ExitCode.badInput,
    hint: "`rotator status` lists recent runs; --drop-consumer applies to an unfinished run's consumers",
  });
}

/** A re-entered run's result, with how the invoked config differed from the run's facts and whom it dropped. */
export function withBinding(result: CommandResult, bound: BoundRun): CommandResult {
  return {
    ...result,
    ...(bound.differences.length === 0 ? {} : { configDifferences: bound.differences }),
    ...(bound.dropped.length === 0 ? {} : { droppedConsumers: bound.dropped }),
  };
}

export function rebuildState(context: EngineContext, journal: RunJournal, records: JournalRecord[]): RunState {
  const oldId = find(records, "preflight-passed")?.oldId || undefined;
  const started = find(records, "run-started");
  const mode: RunMode = {
    kind: started?.mode ?? "rotate",
    emergency: started?.emergency ?? started?.command.includes("--emergency") ?? false,
    revokeImmediately: started?.revokeImmediately ?? false,
    allowSharedRevoke: (started?.allowSharedRevoke ?? false) || has(records, "shared-revoke-allowed"),
  };
  const state = newRunState(context, journal, undefined, [], mode);
  state.oldId = oldId;
  state.newId = find(records, "credential-issued")?.newId ?? find(records, "credential-supplied")?.newId;
  state.newLost = has(records, "credential-lost");
  const kept = find(records, "previous-kept");
  if (kept !== undefined) {
    state.kept = {
      previousId: kept.previousId,
      keepSeconds: kept.keepSeconds,
      ...(kept.cost === undefined ? {} : { cost: kept.cost }),
    };
  }
  state.previousRetired = has(records, "previous-retired");
  for (const progress of state.stores) {
    const name = progress.provider.name;
    const prepared = records.find((r): r is Of<"store-prepared"> => r.event === "store-prepared" && r.store === name);
    progress.restorePoint = prepared?.restorePoint;
    progress.written = records.some((r) => r.event === "store-written" && r.store === name);
    if (progress.written) progress.outcome = "written";
    const handedOver = records.find(
      (r): r is Of<"store-handed-over"> => r.event === "store-handed-over" && r.store === name,
    );
    if (handedOver !== undefined) {
      progress.handedOver = handedOver.reason;
      progress.outcome = "left-to-operator";
    }
    retireProgress(progress, records);
  }
  return state;
}

/** Where a store's retire write stands, from its records in order: an undone one is prepared afresh. */
function retireProgress(progress: RunState["stores"][number], records: JournalRecord[]): void {
  for (const record of records) {
    if (!("store" in record) || record.store !== progress.provider.name) continue;
    if (record.event === "store-retire-prepared") progress.retirePoint = record.restorePoint;
    else if (record.event === "store-retired") progress.retired = true;
    else if (record.event === "store-retire-undone") {
      delete progress.retirePoint;
      progress.retired = false;
    }
  }
}

/**
 * Carry a journaled run on from where its journal (read now, under the locks) says it stopped: the run's own
 * steps (step-table.ts) entered at the furthest checkpoint it journaled, by the one runner.
 *
 * - stopped during a rollback: finish the rollback (every provider's rollback is idempotent);
 * - stopped before the credential existed: roll back (delete it, found by id or by the run's friendly name);
 * - every store was written (`stores-committed`): recover the new secret, and carry on with consumers and the
 *   revoke;
 * - stopped while writing stores (the credential journaled): recover the new secret from a store that holds
 *   it (roll back when none does), check it still authenticates, write the remaining stores, carry on.
 */
export async function continueJournaledRun(
  context: EngineContext,
  journal: RunJournal,
  command: string,
): Promise<CommandResult> {
  const records = await journal.records();
  const state = rebuildState(context, journal, records);
  return resultFromState(command, state, await runSteps(state, stepsToResume(state, records)));
}

function stepsToResume(state: RunState, records: JournalRecord[]): Step[] {
  const { noun } = state.context.issuer.labels;
  if (has(records, "rollback-started")) return rollbackSteps("finishing the interrupted rollback");
  const entry = resumeEntry(state.mode, state.context, records);
  if (entry === undefined || state.newId === undefined) {
    return rollbackSteps(`the run stopped before the new ${noun} was recorded`);
  }
  const recover: Step = has(records, "stores-committed")
    ? { id: "recover-committed", run: (state) => recoverCommitted(state, records) }
    : { id: "recover-written", run: recoverWritten };
  return [recover, ...entry.rest];
}

/** Entering after every store was written: the new secret known again, and still alive. */
async function recoverCommitted(state: RunState, records: JournalRecord[]): Promise<RunOutcome | undefined> {
  const { noun } = state.context.issuer.labels;
  state.context.reporter.info(
    has(records, "old-credential-revoked")
      ? `every store already holds the new ${noun}, and the old one is revoked; carrying on with the previous ${noun}'s retirement`
      : `every store already holds the new ${noun}; carrying on with the revoke`,
  );
  // Known again, so an issuer whose admin was the rotated token can go on with this one (after a promote).
  state.issued = await recoverNewCredential(state);
  // Before waiting for anyone: consumers cannot converge on a credential someone else has since killed.
  if (!has(records, "revoke-started") && (await newCredentialIsDead(state))) return settleLostCredential(state);
  return undefined;
}

/** Entering part-way through the writes: the new secret recovered from a store, the stores reconciled. */
async function recoverWritten(state: RunState): Promise<RunOutcome | undefined> {
  const recovered = await recoverNewCredential(state);
  if (recovered === undefined) {
    return rollbackStep(
      state,
      `no store holds the new ${state.context.issuer.labels.noun} ${maskSid(state.newId)}, so its secret is lost`,
    );
  }
  state.issued = recovered;
  if (await newCredentialIsDead(state)) return settleLostCredential(state);
  try {
    await reconcileStores(state);
  } catch (error) {
    await handOverRefusingStore(state, error);
    return rollbackStep(state, describeStepError(error));
  }
  state.context.reporter.info(`recovered ${maskSid(state.newId)} from a store; finishing the writes`);
  return undefined;
}

/**
 * Before an operator's rollback: a new credential someone else has since killed (an account's secondary replaced
 * by another create) is not this run's to delete: deleting "the secondary" would delete theirs. Journaled.
 */
export async function noticeLostCredential(state: RunState): Promise<void> {
  if (state.newLost || state.newId === undefined || state.mode.kind === "sync") return;
  state.issued = await recoverNewCredential(state);
  if (!(await newCredentialIsDead(state))) return;
  state.newLost = true;
  await state.journal.append({ event: "credential-lost", newId: state.newId });
  state.context.reporter.warn(
    `the run's new ${state.context.issuer.labels.noun} ${maskSid(state.newId)} no longer authenticates (replaced, deleted or promoted by someone else): it is not deleted, as it is no longer this run's`,
  );
}

/**
 * The new secret exists only in memory and in the stores: read it back from any store that has it. While the run's
 * stores keep the previous credential beside it, a store still holding both is preferred: the retire write needs
 * what the first write wrote (the previous secret too) to drop its restore point.
 */
async function recoverNewCredential(state: RunState): Promise<StoredCredential | undefined> {
  let found: StoredCredential | undefined;
  for (const progress of state.stores) {
    if (progress.restorePoint === undefined) continue;
    try {
      const snapshot = await progress.provider.read();
      const held = snapshot.credential;
      if (held !== undefined && credentialId(held) === state.newId) {
        for (const secret of secretsOf(held)) registerSecret(secret);
        found ??= held;
        if (state.kept === undefined || state.previousRetired || withoutPrevious(held) !== held) {
          found = held;
          break;
        }
      }
    } catch {
      // An unreachable store can't help; try the next one. The write step will report it if it matters.
    }
  }
  if (found !== undefined) state.context.issuer.adoptNew(found);
  return found;
}

/**
 * Before writing the rest: stores the crash left holding the new key count as written; stores not yet
 * prepared must still hold the old key (else someone changed them meanwhile, and we stop).
 */
async function reconcileStores(state: RunState): Promise<void> {
  for (const progress of state.stores) {
    // A store others fill is never written: the await-synced-stores step waits for it.
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
      throw new StoreError(
        "needs-operator",
        progress.provider.name,
        `now holds ${maskSid(heldId)}, not the old ${state.context.issuer.labels.noun} ${maskSid(state.oldId)}: someone changed it during the interruption`,
      );
    }
    progress.expected = snapshot;
    if (state.old === undefined && snapshot.credential !== undefined && heldId === state.oldId) {
      state.old = snapshot.credential;
    }
  }
}
