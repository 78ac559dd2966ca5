/**
 * The work of each step of the fixed order, and the rollback. Each journals before it acts and after it
 * succeeds (its own records, which carry what it did), so that a crash anywhere leaves a journal from which
 * `resume` can tell what was done. The order, and what ends a run, is the step table's (step-table.ts,
 * step-runs.ts); `resume` rebuilds a RunState from the journal (reenter.ts) and re-enters the table.
 */
import type {
  RestorePoint,
  StoredCredential,
  StoreProvider,
  StoreSnapshot,
  UndoContext,
} from "../../providers/contract.js";
import { isStoreError } from "../../providers/errors.js";
import { awaitConsumers, type ConsumerResult } from "../consumer-probes/await.js";
import type { Expected } from "../consumer-probes/probe.js";
import type { IssuedCredential } from "../credentials/issuer.js";
import { credentialId, secretsOf, withoutPrevious } from "../credentials/stored.js";
import { ExitCode, errorMessage } from "../errors.js";
import { sameCredential } from "../util/credentials.js";
import { maskSid, registerSecret } from "../util/mask.js";
import type { AdminDependent } from "./admin-dependents.js";
import type { EngineContext } from "./context.js";
import { failpoint } from "./failpoint.js";
import type { RunStatus, SyncDirection } from "./journal.js";
import type { RunJournal } from "./state/backend.js";
import { rollbackOutcome } from "./store-failure.js";

export type StoreOutcome = "unchanged" | "written" | "rolled-back" | "rollback-failed" | "left-to-operator";

export interface StoreProgress {
  provider: StoreProvider;
  /** What preflight (or resume) read before writing: the version a check-and-set write expects. */
  expected: StoreSnapshot | undefined;
  restorePoint: RestorePoint | undefined;
  written: boolean;
  outcome: StoreOutcome;
  /** Why the store was handed to the operator (engine/store-failure.ts): the rollback leaves it alone. */
  handedOver?: string;
  /** How to undo the retire write (engine/retire.ts), once prepared; the first write's restore point is released then. */
  retirePoint?: RestorePoint;
  /** The retire write is done: the store holds the new credential without the previous one. */
  retired?: boolean;
}

export interface RunState {
  context: EngineContext;
  journal: RunJournal;
  /** The key being replaced; undefined when the stores held none. */
  oldId: string | undefined;
  /** The old credential with its secret, when still known (not after a crash past the writes). */
  old: StoredCredential | undefined;
  newId: string | undefined;
  /** The new credential with its secret: in memory only. */
  issued: StoredCredential | undefined;
  stores: StoreProgress[];
  /** The last word from each consumer, once they were checked. */
  consumers: ConsumerResult[];
  warnings: string[];
  /** How the run goes; journaled in run-started, so a resume goes the same way. */
  mode: RunMode;
  /** The new credential no longer authenticates (journaled `credential-lost`): not this run's to delete any more. */
  newLost?: boolean;
  /** After a promote: the other configs whose admin was the old token, and whether they hold a dead one now. */
  adminDependents?: AdminDependent[];
  /** The stores carry the old credential beside the new one until it is retired (engine/retire.ts). */
  /** `cost`: what retiring it right after the revoke costs (an emergency's), for the result. */
  kept?: { previousId: string; keepSeconds: number; cost?: string };
  /** Every store holds the new credential without the previous one (journaled `previous-retired`). */
  previousRetired?: boolean;
}

/**
 * - `rotate`: issue a new credential, write it everywhere, wait for consumers, revoke the old one;
 * - `sync`: write a credential the operator supplies everywhere and wait for consumers; nothing is issued,
 *   nothing revoked, and a rollback never deletes the supplied credential.
 * `emergency`: a shorter consumer deadline (verify.emergencyConsumersTimeoutSeconds); `revokeImmediately`
 * (emergency only): revoke as soon as every store holds the new credential, without waiting for consumers.
 */
export interface RunMode {
  kind: "rotate" | "sync";
  emergency: boolean;
  revokeImmediately: boolean;
  /** Revoke even though stores of other configs are known to hold the old credential (the operator checked). */
  allowSharedRevoke?: boolean;
}

export const ROTATE: RunMode = { kind: "rotate", emergency: false, revokeImmediately: false };

export interface RunOutcome {
  status: RunStatus;
  exitCode: number;
  error?: string;
  /** What `resume` will do next, when the run is not over. */
  next?: string;
  /** What the operator can do, for a run that is over but left something to them (not journaled as `next`). */
  hint?: string;
  /**
   * Where this command's result says other than the journal: an interrupted rotation undone (journaled rolled
   * back, exit 3; said as exit 130, "starts again"), an operator's rollback that did what was asked (exit 0).
   */
  said?: { exitCode?: number; next?: string };
}

export function newRunState(
  context: EngineContext,
  journal: RunJournal,
  old: StoredCredential | undefined,
  snapshots: Array<StoreSnapshot | undefined>,
  mode: RunMode = ROTATE,
): RunState {
  return {
    context,
    journal,
    oldId: old === undefined ? undefined : credentialId(old),
    old,
    newId: undefined,
    issued: undefined,
    stores: context.stores.map((provider, index) => ({
      provider,
      expected: snapshots[index],
      restorePoint: undefined,
      written: false,
      outcome: "unchanged",
    })),
    consumers: [],
    warnings: [],
    mode,
  };
}

/**
 * Step 2, before the runner journals `issue-started` (runner.ts, `journaled`): what that record holds, the name
 * the new credential gets.
 */
export function issueStarting(state: RunState): { friendlyName: string } {
  const { issuer, reporter } = state.context;
  const friendlyName = issuer.friendlyNameFor(state.journal.runId);
  reporter.step(issuer.describeCreating(state.journal.runId));
  return { friendlyName };
}

/**
 * Step 2: create the new credential. The runner journals it (`credential-issued`: its id, never its secret) from
 * what this returns.
 */
export async function issueStep(state: RunState): Promise<IssuedCredential> {
  const { issuer } = state.context;
  let issued: IssuedCredential;
  try {
    issued = await issuer.issue(state.journal.runId);
  } catch (error) {
    // Refused before anything was made: rollback must not go looking for (and deleting) anything.
    if (issuer.refusedBeforeCreating(error))
      await state.journal.append({ event: "issue-refused", error: errorMessage(error) });
    throw error;
  }
  // It exists in Twilio but the journal does not know its id yet: resume finds it (by name, or by the journal).
  failpoint("after-create", state.context.env);
  for (const secret of secretsOf(issued.credential)) registerSecret(secret);
  state.newId = issued.id;
  state.issued = issued.credential;
  issuer.adoptNew(issued.credential);
  return issued;
}

/** Step 2, after the runner journaled `credential-issued`. */
export function reportIssued(state: RunState, issued: IssuedCredential): void {
  state.context.reporter.info(`created ${maskSid(issued.id)}`);
  failpoint("after-issue", state.context.env);
}

/** Step 3: the new credential authenticates (bounded retry for propagation). */
export async function verifyNewStep(state: RunState): Promise<void> {
  const { issuer, reporter } = state.context;
  reporter.step(`checking that ${maskSid(state.newId)} authenticates`);
  const outcome = await issuer.verifyAuthenticates(state.issued!);
  await state.journal.append({ event: "credential-verified", newId: state.newId!, ...outcome });
  reporter.info(`authenticated after ${outcome.attempts} attempt(s), ${outcome.elapsedMs} ms`);
  failpoint("after-verify", state.context.env);
}

/** Step 4 for one store: record how to undo, write, read back and compare. */
export async function writeStoreStep(state: RunState, progress: StoreProgress): Promise<void> {
  const { provider } = progress;
  const ctx = { runId: state.journal.runId };
  if (progress.restorePoint === undefined) {
    const expected = progress.expected ?? (await provider.read());
    progress.restorePoint = await provider.prepare(expected, ctx);
    await state.journal.append({ event: "store-prepared", store: provider.name, restorePoint: progress.restorePoint });
    failpoint(`after-prepare:${provider.name}`, state.context.env);
  }
  const version = await provider.write(state.issued!, progress.restorePoint, ctx);
  const readBack = await provider.read();
  if (!sameCredential(readBack.credential, state.issued)) {
    throw new Error(
      `store "${provider.name}": read-back after the write does not return the new ${state.context.issuer.labels.noun}`,
    );
  }
  progress.written = true;
  progress.outcome = "written";
  await state.journal.append({
    event: "store-written",
    store: provider.name,
    version: version ?? readBack.version ?? null,
  });
  state.context.reporter.info(`${provider.name}: written and read back (${provider.describe()})`);
  failpoint(`after-write:${provider.name}`, state.context.env);
}

/**
 * Step 4: every store in config order. Throws on the first failure; the caller rolls back. `shouldStop` is
 * asked before each store (an interruption): the write in progress is always finished first.
 */
export async function writeStoresStep(
  state: RunState,
  shouldStop: () => boolean = () => false,
): Promise<"committed" | "stopped"> {
  const writable = state.stores.filter((progress) => progress.provider.sync === undefined);
  state.context.reporter.step(`writing ${maskSid(state.newId)} to ${writable.length} store(s), in order`);
  for (const progress of writable) {
    if (progress.written) continue;
    if (shouldStop()) return "stopped";
    await writeStoreStep(state, progress);
  }
  await state.journal.append({ event: "stores-committed" });
  failpoint("after-commit", state.context.env);
  return "committed";
}

/**
 * Steps 5-6: consumers with a reload hook are asked to re-read their store, then every consumer is polled
 * until it reports the new key and authenticates. Returns the names still lagging at the deadline.
 */
export async function awaitConsumersStep(
  state: RunState,
  expected: Expected = { kind: state.context.issuer.kind, id: state.newId! },
): Promise<string[]> {
  const { consumers, reporter, loaded } = state.context;
  if (consumers.length === 0) return [];
  const verify = loaded.config.verify;
  const timeoutSeconds = consumersTimeoutSeconds(state);
  reporter.step(
    state.mode.revokeImmediately
      ? `asking ${consumers.length} consumer(s) once (--revoke-immediately: the revoke does not wait for them)`
      : `waiting for ${consumers.length} consumer(s) to use ${maskSid(state.newId)} (up to ${timeoutSeconds} s)`,
  );
  // One line per consumer under a clock, redrawn in place on a terminal: the live progress of the slowest step.
  const board = new Map(consumers.map((probe) => [probe.name, `… ${probe.name}: waiting`]));
  let clock = `0 s elapsed, ${Math.round(timeoutSeconds)} s left`;
  const draw = () => reporter.live?.([`consumers: ${clock}`, ...[...board.values()].map((line) => `  ${line}`)]);
  draw();
  const { converged, results } = await awaitConsumers(consumers, expected, {
    timeoutMs: timeoutSeconds * 1000,
    pollMs: verify.consumersPollSeconds * 1000,
    reload: { runId: state.journal.runId, direction: "forward" },
    shouldStop: () => state.context.interruption?.signal !== undefined,
    onChange: (result) => {
      const line = `${result.convergedAt === null ? "…" : "✓"} ${result.name}: ${result.report.detail}`;
      board.set(result.name, line);
      if (reporter.live) draw();
      else reporter.info(line);
    },
    onRound: (elapsedMs, remainingMs) => {
      clock = `${Math.round(elapsedMs / 1000)} s elapsed, ${Math.round(remainingMs / 1000)} s left`;
      draw();
    },
  });
  reporter.liveDone?.();
  for (const result of results) {
    if (result.reloaded === "failed") reporter.warn(`${result.name}: reload hook failed: ${result.reloadError}`);
    if (result.reloadDetail !== undefined) reporter.info(`${result.name}: ${result.reloadDetail}`);
  }
  state.consumers = results;
  await state.journal.append({
    event: "consumers-checked",
    converged,
    results: results.map((r) => ({
      name: r.name,
      state: r.report.state,
      detail: r.report.detail,
      convergedAt: r.convergedAt,
      reloaded: r.reloaded,
      ...(r.reloadDetail === undefined ? {} : { reloadDetail: r.reloadDetail }),
      ...(r.report.pods === undefined ? {} : { pods: r.report.pods }),
    })),
  });
  return results.filter((r) => r.convergedAt === null).map((r) => r.name);
}

/**
 * Stores another system fills (`syncedFrom`): ask each to refresh, then wait (each up to its own bound) until it
 * holds the run's new credential (`forward`), the old one again after a rollback (`back`), or the new one without
 * the previous credential beside it after the retire write (`retired`: an app reading the synced store would
 * otherwise keep trusting the previous one). Returns the ones that do not, with what they hold.
 */
export async function awaitSyncedStoresStep(state: RunState, direction: SyncDirection): Promise<string[]> {
  const synced = state.stores.filter((progress) => progress.provider.sync !== undefined);
  const target = direction === "back" ? state.oldId : state.newId;
  if (synced.length === 0 || target === undefined) return [];
  const { reporter, loaded } = state.context;
  const pollMs = loaded.config.verify.consumersPollSeconds * 1000;
  const goal = direction === "retired" ? `${maskSid(target)} alone (the previous one retired)` : maskSid(target);
  reporter.step(
    `waiting for ${synced.map((p) => `${p.provider.name} (synced from ${p.provider.sync?.from})`).join(", ")} to hold ${goal}`,
  );
  /** What the store holds, and whether that is what the run waits for. */
  const holds = async (progress: StoreProgress): Promise<{ there: boolean; shown: string }> => {
    try {
      const held = (await progress.provider.read()).credential;
      if (held === undefined) return { there: false, shown: maskSid(undefined) };
      const id = credentialId(held);
      const keepsPrevious = withoutPrevious(held) !== held;
      if (direction === "retired" && keepsPrevious) {
        return { there: false, shown: `${maskSid(id)} with the previous one beside it` };
      }
      return { there: id === target, shown: maskSid(id) };
    } catch (error) {
      return { there: false, shown: `unreadable: ${errorMessage(error)}` };
    }
  };
  const laggards = await Promise.all(
    synced.map(async (progress): Promise<string | undefined> => {
      const sync = progress.provider.sync!;
      const deadline = Date.now() + sync.timeoutSeconds * 1000;
      let asked = 0;
      for (;;) {
        const held = await holds(progress);
        if (held.there) {
          reporter.info(`${progress.provider.name}: holds ${goal}`);
          return undefined;
        }
        // Asked again now and then: a refresh that ran before its source was readable copies the old value.
        if (Date.now() - asked >= SYNC_REQUEST_EVERY_MS) {
          const detail = await sync.request(state.journal.runId);
          asked = Date.now();
          await state.journal.append({ event: "store-sync-requested", store: progress.provider.name, detail });
          reporter.info(`${progress.provider.name}: ${detail}`);
        }
        const interrupted = direction !== "back" && state.context.interruption?.signal !== undefined;
        if (interrupted || Date.now() + pollMs > deadline) {
          return `${progress.provider.name} (synced from ${sync.from}; holds ${held.shown})`;
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    }),
  );
  const missing = laggards.filter((laggard): laggard is string => laggard !== undefined);
  await state.journal.append({ event: "stores-synced", direction, converged: missing.length === 0, laggards: missing });
  return missing;
}

const SYNC_REQUEST_EVERY_MS = 30_000;

/** How long consumers get: the emergency deadline in an emergency, none at all with --revoke-immediately. */
export function consumersTimeoutSeconds(state: RunState): number {
  return consumersDeadlineSeconds(state.context.loaded.config.verify, state.mode);
}

/** The same for a run not started yet (plan, the confirmation prompt): one rule, so plan says what rotate does. */
export function consumersDeadlineSeconds(
  verify: { consumersTimeoutSeconds: number; emergencyConsumersTimeoutSeconds: number },
  mode: Pick<RunMode, "emergency" | "revokeImmediately">,
): number {
  if (mode.revokeImmediately) return 0;
  return mode.emergency
    ? Math.min(verify.emergencyConsumersTimeoutSeconds, verify.consumersTimeoutSeconds)
    : verify.consumersTimeoutSeconds;
}

/**
 * Step 7, before the runner journals `revoke-started` (runner.ts, `journaled`): what that record holds, or
 * undefined when there is no old credential to revoke (nothing is journaled then).
 */
export function revokeStarting(state: RunState): { oldId: string } | undefined {
  const { issuer, reporter } = state.context;
  if (state.oldId === undefined) {
    reporter.step(`no old ${issuer.labels.noun} to revoke`);
    return undefined;
  }
  reporter.step(issuer.describeRevoking(maskSid(state.oldId)));
  return { oldId: state.oldId };
}

/** What a revoke did: the runner journals it as `old-credential-revoked`. */
export interface Revoked {
  oldId: string;
  outcome: "deleted" | "absent";
  /** Twilio refuses the old credential (20003); undefined when checking that failed. */
  refused: boolean | undefined;
}

/** Step 7: revoke the old key (revokeStarting said there is one), then make sure Twilio refuses it. */
export async function revokeStep(state: RunState): Promise<Revoked> {
  const { issuer } = state.context;
  const { revoked } = issuer.labels;
  const oldId = state.oldId;
  if (oldId === undefined) throw new Error("the revoke began without an old credential");
  failpoint("after-revoke-started", state.context.env);
  const outcome = await issuer.revoke(oldId, state.newId);
  // Revoked (a token promoted), not yet journaled: resume must find that out from Twilio.
  failpoint("after-revoke", state.context.env);
  await journalAdminSwitches(state);
  // With the old secret at hand, prove the revoke with a real call; after a crash only the lookup is left.
  // The delete has happened either way: a failed check is a warning, not a failed revoke.
  let refused: boolean | undefined;
  try {
    refused =
      state.old !== undefined ? await issuer.confirmRefused(state.old) : (await issuer.describe(oldId)) === undefined;
  } catch (error) {
    refused = undefined;
    warn(state, `${maskSid(oldId)} was ${revoked}, but checking that Twilio refuses it failed: ${errorMessage(error)}`);
  }
  return { oldId, outcome, refused };
}

/** Step 7, after the runner journaled `old-credential-revoked`: what the operator is told of it. */
export function reportRevoked(state: RunState, { oldId, outcome, refused }: Revoked): void {
  const { issuer, reporter } = state.context;
  const { revoked } = issuer.labels;
  if (refused === true) {
    reporter.info(
      `${maskSid(oldId)} ${outcome === "deleted" ? revoked : `was already ${revoked}`}; Twilio now refuses it (20003)`,
    );
  } else if (refused === false) {
    warn(
      state,
      `${maskSid(oldId)} was ${revoked} but Twilio still accepted it ${state.context.loaded.config.verify.revokeConfirmSeconds} s later; check it in the Console`,
    );
  }
}

/**
 * The issuer went on with another admin credential (the configured one was the token this run promoted
 * away): journal it, and say what the operator must update, since that credential is dead from now on. An admin
 * read from one of the run's own stores (`fromStore`) after this run's promote needs nothing: the run wrote its new
 * token there, so the next run reads a working one; that is said as information, not as a warning.
 */
export async function journalAdminSwitches(state: RunState): Promise<void> {
  for (const change of state.context.adminSwitches.splice(0)) {
    await state.journal.append({ event: "admin-switched", from: change.from, to: change.to });
    const source = state.context.loaded.admin?.passwordSource;
    const ownStore = state.mode.kind === "rotate" ? adminStoreOfRun(state) : undefined;
    if (ownStore !== undefined) {
      state.context.reporter.info(
        `admin credential: store ${ownStore} held the token this run promoted away; it holds the run's new token now, which this run went on with and the next run reads`,
      );
      continue;
    }
    warn(
      state,
      source?.startsWith("env ")
        ? `the admin credential ${source} holds the old token, which no longer works: put the new token there (or use twilio.admin: { authToken: { fromStore: <store> } })`
        : `admin credential: ${change.from} no longer works; this run went on with ${change.to}`,
    );
  }
}

/** The store the admin token is read from (`twilio.admin.authToken.fromStore`), when it is one this run writes. */
function adminStoreOfRun(state: RunState): string | undefined {
  const admin = state.context.loaded.config.twilio.admin;
  const name = "authToken" in admin && "fromStore" in admin.authToken ? admin.authToken.fromStore : undefined;
  const written = state.stores.some(
    (progress) => progress.provider.name === name && progress.provider.sync === undefined,
  );
  return written ? name : undefined;
}

/** What the journal tells `findCreatedBy`: whether this run began a create, and what it recorded. */
async function creationHint(state: RunState): Promise<{ started: boolean; knownId: string | undefined }> {
  const records = await state.journal.records();
  const started = records.some((r) => r.event === "issue-started") && !records.some((r) => r.event === "issue-refused");
  return { started, knownId: state.newId };
}

function warn(state: RunState, warning: string): void {
  state.warnings.push(warning);
  state.context.reporter.warn(warning);
}

/**
 * Just before the revoke: every store must still hold the new key. Anything may have happened while the
 * run waited for consumers (or sat interrupted before a resume): a config-management run putting a file
 * back, a restore from backup, a hand edit. Revoking the old key then would strand that store's readers.
 * Returns the stores that no longer hold it.
 */
export async function storesStillHoldNewKey(state: RunState): Promise<string[]> {
  const strays: string[] = [];
  for (const progress of state.stores) {
    let held: string | undefined;
    try {
      const snapshot = await progress.provider.read();
      held = snapshot.credential === undefined ? undefined : credentialId(snapshot.credential);
    } catch (error) {
      strays.push(`${progress.provider.name} (unreadable: ${errorMessage(error)})`);
      continue;
    }
    if (held !== state.newId) strays.push(`${progress.provider.name} (holds ${maskSid(held)})`);
  }
  await state.journal.append({ event: "stores-checked", missing: strays });
  return strays;
}

/**
 * A create whose response was lost and retried leaves a second key with this run's name: a live
 * credential whose secret nobody holds. Delete every key of this run except the one in use.
 */
export async function discardStrayKeys(state: RunState): Promise<void> {
  try {
    for (const id of await state.context.issuer.findCreatedBy(state.journal.runId, await creationHint(state))) {
      if (id === state.newId) continue;
      const outcome = await state.context.issuer.discard(id);
      await state.journal.append({ event: "credential-discarded", newId: id, outcome });
      state.context.reporter.info(`deleted a stray key of this run, ${maskSid(id)} (a retried create)`);
    }
  } catch (error) {
    warn(state, `could not check for stray keys named after this run: ${errorMessage(error)}`);
  }
}

/** Step 8: drop restore points (backups of the old secret); the run is complete (the runner journals it). */
export async function finishStep(state: RunState): Promise<RunOutcome> {
  await releaseStores(state, state.stores);
  const outcome: RunOutcome = { status: "completed", exitCode: ExitCode.completed };
  state.context.reporter.step(
    `done: ${maskSid(state.newId)} is in every store${state.oldId && state.mode.kind === "rotate" ? `, ${maskSid(state.oldId)} is revoked` : ""}${state.previousRetired === true ? ", and retired from every store" : ""}`,
  );
  return outcome;
}

async function releaseStores(state: RunState, stores: StoreProgress[]): Promise<void> {
  const ctx = { runId: state.journal.runId, newKeyId: state.newId ?? "" };
  // The credential each write made current: the first write's (state.issued), and the retire write's (without the
  // previous one) when the store has one.
  const written = state.issued === undefined ? {} : { written: state.issued };
  const retired = state.issued === undefined ? undefined : withoutPrevious(state.issued);
  for (const progress of stores) {
    const points: Array<[RestorePoint | undefined, UndoContext]> = [
      [progress.restorePoint, { ...ctx, ...written }],
      [progress.retirePoint, retired === undefined ? ctx : { ...ctx, written: retired }],
    ];
    for (const [point, undo] of points) {
      if (point === undefined) continue;
      try {
        await progress.provider.release(point, undo);
      } catch (error) {
        // A leftover backup is untidy, not unsafe: it is mode 0600 next to the store it came from.
        const warning = `${progress.provider.name}: could not remove the restore point: ${errorMessage(error)}`;
        state.warnings.push(warning);
        state.context.reporter.warn(warning);
      }
    }
  }
  await state.journal.append({ event: "stores-released" });
}

/**
 * Undo a run that has not revoked: every store that was prepared goes back to its restore point, in
 * reverse order, then the new key is deleted. A store that cannot be rolled back does not stop the others.
 * Returns the run's outcome, which the runner journals.
 */
export async function rollbackStep(state: RunState, reason: string): Promise<RunOutcome> {
  const { reporter, issuer } = state.context;
  const { noun } = issuer.labels;
  reporter.step(`rolling back: ${reason}`);
  await state.journal.append({ event: "rollback-started", reason });
  failpoint("after-rollback-started", state.context.env);
  const failed: string[] = [];
  const rolledBack: StoreProgress[] = [];
  for (const progress of [...state.stores].reverse()) {
    if (progress.restorePoint === undefined || progress.handedOver !== undefined) continue;
    try {
      await progress.provider.rollback(progress.restorePoint, {
        runId: state.journal.runId,
        newKeyId: state.newId ?? "",
        ...(state.issued === undefined ? {} : { written: state.issued }),
      });
      progress.outcome = "rolled-back";
      progress.written = false;
      rolledBack.push(progress);
      await state.journal.append({ event: "store-rolled-back", store: progress.provider.name });
      reporter.info(`${progress.provider.name}: restored`);
    } catch (error) {
      progress.outcome = "rollback-failed";
      failed.push(`${progress.provider.name}: ${errorMessage(error)}`);
      await state.journal.append({
        event: "store-rollback-failed",
        store: progress.provider.name,
        error: errorMessage(error),
      });
      reporter.warn(`${progress.provider.name}: rollback failed: ${errorMessage(error)}`);
    }
  }
  if (failed.length > 0) {
    // The new key stays: a store that could not be restored may hold it, and deleting it would break
    // whoever reads that store. The old key is untouched, so consumers of the other stores are fine.
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error: `rollback failed for ${failed.join("; ")}`,
      next: "fix the stores named above, then run `rotator resume` to finish the rollback",
    };
    return outcome;
  }
  const touched = state.stores.some((progress) => progress.restorePoint !== undefined);
  const unsynced = touched ? await awaitSyncedStoresStep(state, "back") : [];
  if (unsynced.length > 0) {
    // Its readers may already use the new key: deleting it now would strand them.
    const error = `every store rotator writes holds the old ${noun} again, but ${unsynced.join(", ")} still does not, so the new ${noun} was not deleted`;
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error,
      next: `make the system that fills those stores catch up (for an ExternalSecret: kubectl annotate externalsecret <name> force-sync=$(date +%s) --overwrite), then \`rotator resume\` checks again and deletes the new ${noun}`,
    };
    reporter.warn(error);
    return outcome;
  }
  const stillOnNewKey = await consumersBackOnOldKey(state);
  if (stillOnNewKey.length > 0) {
    // A consumer that already switched would get 20003 the moment the new key is deleted: keep it.
    const error = `every store holds the old ${noun} again, but ${stillOnNewKey.join(", ")} still use(s) the new ${noun}, so it was not deleted`;
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error,
      next: `make those consumers re-read their store (reload or restart them), then \`rotator resume\` checks again and deletes the new ${noun}`,
    };
    reporter.warn(error);
    return outcome;
  }
  try {
    // A sync's credential is the operator's, in use elsewhere: never deleted. A lost one (replaced by someone
    // else's) is not this run's any more: deleting "the secondary" would delete theirs.
    for (const id of state.mode.kind === "sync" || state.newLost ? [] : await keysToDiscard(state)) {
      const outcome = await issuer.discard(id);
      await state.journal.append({ event: "credential-discarded", newId: id, outcome });
      if (id === state.newId) reporter.info(`deleted the new ${noun} ${maskSid(id)}`);
      else {
        // Found though never journaled (a crash mid-create, a lost answer): say what it was, and how sure.
        const said = issuer.describeDiscardedUnrecorded(id);
        if (said.certain) reporter.info(said.text);
        else warn(state, said.text);
      }
    }
  } catch (error) {
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: ExitCode.needsOperator,
      error: `every store is back to its previous value, but deleting the new ${noun} failed: ${errorMessage(error)}`,
      next: `run \`rotator resume\` to delete it (the old ${noun} is untouched and still valid)`,
    };
    return outcome;
  }
  // A store handed to the operator has nothing of the run to undo: what prepare kept aside (a backup) goes too.
  await releaseStores(state, [...rolledBack, ...state.stores.filter((progress) => progress.handedOver !== undefined)]);
  const outcome = rollbackOutcome(state, {
    status: "rolled-back",
    exitCode: ExitCode.rolledBack,
    error: reason,
    // After a leak the old credential is what had to go: rolled back, it is still live.
    ...(state.mode.emergency && state.oldId !== undefined
      ? {
          next: `the old ${noun} ${maskSid(state.oldId)} is still valid and in every store: fix what failed, then run \`rotator rotate --emergency\` again`,
        }
      : {}),
  });
  if (outcome.status === "rolled-back") {
    reporter.step(`rolled back: every store holds what it held before; ${maskSid(state.oldId)} is untouched`);
  } else reporter.warn(outcome.error as string);
  return outcome;
}

/**
 * Before the new key is deleted on rollback: consumers may have picked it up already (a reload hook, a
 * short cache TTL, a resumed run that was awaiting them). Ask them to reload and wait until none may still
 * hold it. Returns the ones that may, by the deadline (an emergency's is the shorter one).
 *
 * A consumer may hold the new key when it reports it, or when it does not answer and was seen on it in this
 * run (the journal's consumer checks, or this wait). One that does not answer and was never seen on it
 * cannot be holding it (it was down, or cut off, while the stores held it): it is not waited for, and when it
 * starts it reads the old key its store holds again (promise 1 is about consumers left on a dead key). One
 * that reports the old key need not authenticate with it: in an emergency the old key may be dead already.
 */
async function consumersBackOnOldKey(state: RunState): Promise<string[]> {
  const { consumers, loaded, reporter, issuer } = state.context;
  const touched = state.stores.some((progress) => progress.restorePoint !== undefined);
  if (consumers.length === 0 || state.oldId === undefined || state.newId === undefined || !touched) return [];
  reporter.info(`checking that ${consumers.length} consumer(s) are back on ${maskSid(state.oldId)}`);
  const seenOnNew = await consumersSeenOnNewCredential(state);
  const newMasked = maskSid(state.newId);
  const mayHoldNew = (result: ConsumerResult): boolean => {
    const { state: probed, reported } = result.report;
    if (reported === newMasked) seenOnNew.add(result.name);
    if (probed === "unreachable") return seenOnNew.has(result.name);
    // Another credential than the old one: the new one, or one the probe cannot name (a command check).
    return probed !== "not-authenticated" && (reported === undefined || reported === newMasked);
  };
  const { converged, results } = await awaitConsumers(
    consumers,
    { kind: issuer.kind, id: state.oldId },
    {
      timeoutMs: consumersDeadlineSeconds(loaded.config.verify, { ...state.mode, revokeImmediately: false }) * 1000,
      pollMs: loaded.config.verify.consumersPollSeconds * 1000,
      reload: { runId: state.journal.runId, direction: "back" },
      onChange: (result) => reporter.info(`${result.name}: ${result.report.detail}`),
      done: (result) => !mayHoldNew(result),
    },
  );
  const pending = results.filter((r) => r.convergedAt === null);
  const laggards = pending.filter(mayHoldNew).map((r) => r.name);
  const silent = pending.filter((r) => r.report.state === "unreachable" && !mayHoldNew(r)).map((r) => r.name);
  await state.journal.append({
    event: "consumers-restored",
    converged,
    laggards,
    ...(silent.length > 0 ? { unreachable: silent } : {}),
  });
  if (silent.length > 0 && laggards.length === 0) {
    warn(
      state,
      `${silent.join(", ")} did not answer and never reported ${newMasked} in this run, so cannot be holding it: it is deleted; once up, they read ${maskSid(state.oldId)} from their store`,
    );
  }
  return laggards;
}

/** Consumers this run's journal saw reporting the new credential (its consumer checks are about the new one). */
async function consumersSeenOnNewCredential(state: RunState): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const record of await state.journal.records()) {
    if (record.event !== "consumers-checked") continue;
    for (const result of record.results) {
      if (result.state === "converged" || result.state === "not-authenticated") seen.add(result.name);
    }
  }
  return seen;
}

/** The new key, plus any key this run created whose creation the journal never saw (crash mid-create). */
async function keysToDiscard(state: RunState): Promise<string[]> {
  const ids = new Set<string>();
  if (state.newId !== undefined) ids.add(state.newId);
  for (const id of await state.context.issuer.findCreatedBy(state.journal.runId, await creationHint(state)))
    ids.add(id);
  return [...ids];
}

export function describeStepError(error: unknown): string {
  if (isStoreError(error)) return error.message;
  return errorMessage(error);
}
