/**
 * The previous credential, for a type that keeps it (an Auth Token: CredentialTypeSpec.keepsPrevious). Twilio signs
 * webhooks with the account's primary token, and the promote (the revoke) changes which token that is; so the first
 * write puts the old token beside the new one in every store (`previous-kept`), consumers that validate webhooks
 * must validate with both before the promote, and after the promote (and the time Twilio may still sign with the
 * old token) a second all-or-nothing write retires it from every store:
 *
 * - signing lag: wait until `keepSeconds` have passed since the promote, as the journal dates it (a resume waits
 *   only the rest); none in an emergency: a leaked token is not trusted longer than the promote;
 * - retire: every store written in config order with the new credential alone, each prepared (its first restore
 *   point released first: it holds the old token, dead since the promote) and journaled; on a failure the stores
 *   already retired get the previous one back (so all stores agree), and the run fails for `resume` to retire it.
 *   The old token is dead at Twilio: nothing goes back to it; every store holds the new token as its current one
 *   throughout;
 * - await: consumers validate webhooks with the new token only.
 */
import type { RestorePoint, StoredCredential, StoreProvider, UndoContext } from "../../providers/contract.js";
import type { Expected } from "../consumer-probes/probe.js";
import type { KeepsPrevious } from "../credentials/definition.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { withoutPrevious } from "../credentials/stored.js";
import { ExitCode, errorMessage } from "../errors.js";
import { sameCredential } from "../util/credentials.js";
import { maskSid } from "../util/mask.js";
import { failpoint } from "./failpoint.js";
import type { JournalRecord } from "./journal.js";
import { describeStepError, type RunOutcome, type RunState, type StoreProgress } from "./steps.js";

/** What the run keeps of the previous credential (journaled `previous-kept`), once the first write decided it. */
export interface KeptPrevious {
  previousId: string;
  keepSeconds: number;
}

/** The type's way of keeping its previous credential, for a run that issues one (a sync replaces nothing of Twilio's). */
export function keepsPreviousOf(state: Pick<RunState, "context" | "mode">): KeepsPrevious | undefined {
  if (state.mode.kind !== "rotate") return undefined;
  return credentialTypeOf(state.context.issuer.kind).keepsPrevious;
}

/** How long stores keep the previous credential after the revoke: none in an emergency (a leak). */
export function keepSecondsFor(keeps: KeepsPrevious, state: Pick<RunState, "context" | "mode">): number {
  return state.mode.emergency ? 0 : keeps.keepSeconds(state.context.loaded.config.credential);
}

/**
 * Before the first store is written: the credential the stores get is the new one with the old one beside it, when
 * the type keeps it and there is an old one (journaled, so a resume knows there is something to retire).
 */
export async function keepPrevious(state: RunState): Promise<void> {
  const keeps = keepsPreviousOf(state);
  if (keeps === undefined || state.kept !== undefined || state.issued === undefined) return;
  if (state.stores.some((progress) => progress.restorePoint !== undefined)) return; // decided before a crash
  const previous = state.old?.[keeps.from];
  if (state.oldId === undefined || previous === undefined) return;
  // An emergency retires it right after the revoke; what that costs is said in the result (and journaled with it,
  // so a resumed run says it too without asking the type again).
  const cost = state.mode.emergency ? { cost: keeps.retiredAtOnceCost } : {};
  state.kept = { previousId: state.oldId, keepSeconds: keepSecondsFor(keeps, state), ...cost };
  state.issued = { ...state.issued, [keeps.field]: previous };
  await state.journal.append({ event: "previous-kept", ...state.kept });
  state.context.reporter.info(
    `the stores keep the old ${state.context.issuer.labels.noun} ${maskSid(state.oldId)} beside the new one ${keeps.purpose} until ${state.kept.keepSeconds} s after ${keeps.revokeName}`,
  );
}

/** What consumers must report: the new credential, and (while the previous one is kept) which they validate with. */
export function expectedOf(state: RunState, phase: "kept" | "retired" = "kept"): Expected {
  const expected: Expected = { kind: state.context.issuer.kind, id: state.newId! };
  if (state.kept === undefined || state.newId === undefined) return expected;
  const webhooks =
    phase === "kept"
      ? { trusts: [state.newId, state.kept.previousId], retired: [] }
      : { trusts: [state.newId], retired: [state.kept.previousId] };
  return { ...expected, webhooks };
}

/** The new credential without the previous one: what the retire write makes current. */
export function retiredCredential(state: RunState): StoredCredential | undefined {
  return state.issued === undefined ? undefined : withoutPrevious(state.issued);
}

/** What rollback and release are told of the write that made `written` current. */
export function undoContext(state: RunState, written: StoredCredential | undefined): UndoContext {
  return {
    runId: state.journal.runId,
    newKeyId: state.newId ?? "",
    ...(written === undefined ? {} : { written }),
  };
}

/** The run still has the previous credential to retire (kept, and not yet retired from every store). */
export function retirePending(state: RunState): boolean {
  return state.kept !== undefined && !state.previousRetired;
}

/** When the revoke happened, as the journal dates it (its first record of it); now, when it is not there. */
function revokedAt(records: JournalRecord[]): number {
  const revoked = records.find((record) => record.event === "old-credential-revoked");
  return revoked === undefined ? Date.now() : Date.parse(revoked.ts);
}

/**
 * Wait until the previous credential has been kept `keepSeconds` after the revoke (journaled time). Returns false when
 * an interruption stopped the wait.
 */
export async function signingLagStep(state: RunState): Promise<boolean> {
  failpoint("after-promote", state.context.env);
  if (!retirePending(state) || state.kept === undefined) return true;
  const until = revokedAt(await state.journal.records()) + state.kept.keepSeconds * 1000;
  const waitMs = until - Date.now();
  if (waitMs > 0) {
    state.context.reporter.step(
      `keeping the old ${state.context.issuer.labels.noun} ${maskSid(state.kept.previousId)} in the stores ${keepsPreviousOf(state)?.purpose ?? ""} for ${Math.ceil(waitMs / 1000)} s more (until ${new Date(until).toISOString()})`,
    );
  }
  while (Date.now() < until) {
    if (state.context.interruption?.signal !== undefined) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(0, until - Date.now()))));
  }
  return true;
}

/**
 * The second write, before the runner journals `retire-started` (runner.ts, `journaled`): what that record holds,
 * or undefined when there is nothing to retire (nothing is journaled then).
 */
export function retireStarting(state: RunState): { previousId: string } | undefined {
  const kept = state.kept;
  if (kept === undefined || retiredCredential(state) === undefined) return undefined;
  const writable = state.stores.filter((progress) => progress.provider.sync === undefined);
  state.context.reporter.step(
    `retiring the old ${state.context.issuer.labels.noun} ${maskSid(kept.previousId)} from ${writable.length} store(s), in order`,
  );
  return { previousId: kept.previousId };
}

/**
 * The second write: every store rotator writes gets the new credential without the previous one, in config order.
 * Returns the retired credential's id, which the runner journals (`previous-retired`). Throws on the first failure
 * (the caller undoes the stores it retired: see `undoRetire`, and ends the run).
 */
export async function retireStep(state: RunState): Promise<string> {
  const kept = state.kept;
  const next = retiredCredential(state);
  if (kept === undefined || next === undefined) throw new Error("the retire began without a previous credential");
  const writable = state.stores.filter((progress) => progress.provider.sync === undefined);
  for (const progress of writable) {
    if (progress.retired === true) {
      // Journaled retired, but an undo a crash cut short may have put the previous one back: checked, not assumed.
      if (sameCredential((await progress.provider.read()).credential, next)) continue;
      progress.retired = false;
    }
    await retireStore(state, progress, next);
  }
  state.previousRetired = true;
  return kept.previousId;
}

async function retireStore(state: RunState, progress: StoreProgress, next: StoredCredential): Promise<void> {
  const { provider } = progress;
  const ctx = { runId: state.journal.runId };
  const earlier = progress.retirePoint;
  if (earlier === undefined) {
    // The first write's restore point holds the old credential, dead since the revoke: dropped, never restored.
    if (progress.restorePoint !== undefined)
      await provider.release(progress.restorePoint, undoContext(state, state.issued));
    await prepareRetire(state, progress);
  }
  let version: string | undefined;
  try {
    version = await provider.write(next, progress.retirePoint as RestorePoint, ctx);
  } catch (error) {
    // A restore point of an earlier attempt whose undo a crash cut short (journaled neither way): the store moved on
    // from it, back to the new credential with the previous beside it. Prepared afresh from there, and written.
    if (earlier === undefined || !(await holdsKept(state, provider))) throw error;
    await releaseQuietly(state, provider, earlier, next);
    await prepareRetire(state, progress);
    version = await provider.write(next, progress.retirePoint as RestorePoint, ctx);
  }
  const readBack = await provider.read();
  if (!sameCredential(readBack.credential, next)) {
    throw new Error(
      `store "${provider.name}": read-back after the retire write does not return the new ${state.context.issuer.labels.noun} alone`,
    );
  }
  progress.retired = true;
  await state.journal.append({
    event: "store-retired",
    store: provider.name,
    version: version ?? readBack.version ?? null,
  });
  state.context.reporter.info(
    `${provider.name}: previous ${state.context.issuer.labels.noun} retired (${provider.describe()})`,
  );
  failpoint(`after-retire:${provider.name}`, state.context.env);
}

async function prepareRetire(state: RunState, progress: StoreProgress): Promise<void> {
  const { provider } = progress;
  progress.retirePoint = await provider.prepare(await provider.read(), { runId: state.journal.runId });
  await state.journal.append({
    event: "store-retire-prepared",
    store: provider.name,
    restorePoint: progress.retirePoint,
  });
  failpoint(`after-retire-prepare:${provider.name}`, state.context.env);
}

/** Whether the store holds what the first write made current: the new credential with the previous beside it. */
async function holdsKept(state: RunState, provider: StoreProvider): Promise<boolean> {
  const held = (await provider.read()).credential;
  return (
    held !== undefined &&
    state.issued !== undefined &&
    sameCredential(held, state.issued) &&
    withoutPrevious(held) !== held
  );
}

/**
 * A retire write failed: every store it prepared goes back to holding the previous credential beside the new one
 * (in reverse order), so all stores agree; the run fails, and `resume` retires it again. Nothing goes back to the old
 * credential: it died with the revoke.
 */
export async function undoRetire(state: RunState, error: unknown): Promise<RunOutcome> {
  const { reporter, issuer } = state.context;
  const { noun } = issuer.labels;
  const reason = describeStepError(error);
  reporter.warn(`retiring the previous ${noun} failed: ${reason}`);
  const next = retiredCredential(state);
  const failed: string[] = [];
  for (const progress of [...state.stores].reverse()) {
    if (progress.retirePoint === undefined) continue;
    const point: RestorePoint = progress.retirePoint;
    try {
      await progress.provider.rollback(point, undoContext(state, next));
      failpoint(`after-retire-undo:${progress.provider.name}`, state.context.env);
      await releaseQuietly(state, progress.provider, point, next);
      delete progress.retirePoint;
      progress.retired = false;
      await state.journal.append({ event: "store-retire-undone", store: progress.provider.name });
      reporter.info(`${progress.provider.name}: holds the previous ${noun} beside the new one again`);
    } catch (undoError) {
      failed.push(`${progress.provider.name}: ${errorMessage(undoError)}`);
      await state.journal.append({
        event: "store-retire-undo-failed",
        store: progress.provider.name,
        error: errorMessage(undoError),
      });
      reporter.warn(`${progress.provider.name}: could not put the previous ${noun} back: ${errorMessage(undoError)}`);
    }
  }
  const previous = maskSid(state.kept?.previousId);
  const current = `every store holds the new ${noun} ${maskSid(state.newId)} as its current one`;
  return {
    status: "failed",
    exitCode: ExitCode.needsOperator,
    error:
      failed.length === 0
        ? `retiring the previous ${noun} ${previous} failed: ${reason}; ${current}, and every store holds ${previous} beside it again`
        : `retiring the previous ${noun} ${previous} failed: ${reason}; ${current}, but putting ${previous} back beside it failed for ${failed.join("; ")}`,
    next: `fix what failed, then \`rotator resume\` retires the previous ${noun} ${previous} from every store (it no longer authenticates with Twilio; apps may still accept webhooks signed with it until then)`,
  };
}

async function releaseQuietly(
  state: RunState,
  provider: StoreProvider,
  point: RestorePoint,
  written: StoredCredential | undefined,
): Promise<void> {
  try {
    await provider.release(point, undoContext(state, written));
  } catch (error) {
    const warning = `${provider.name}: could not remove the restore point: ${errorMessage(error)}`;
    state.warnings.push(warning);
    state.context.reporter.warn(warning);
  }
}

/**
 * Where a journaled run's previous credential stands, in words (`rotator status`): kept in the stores, pending
 * retirement after the revoke, or retired. Undefined for a run whose stores did not keep it.
 */
export function previousFromJournal(records: JournalRecord[], noun: string): string | undefined {
  const kept = records.find((record) => record.event === "previous-kept");
  if (kept?.event !== "previous-kept") return undefined;
  const previous = `the previous ${noun} ${maskSid(kept.previousId)}`;
  if (records.some((record) => record.event === "previous-retired")) return `${previous} is retired from every store`;
  if (records.some((record) => record.event === "old-credential-revoked")) {
    return `${previous} (revoked) is still kept in the stores beside the new one: \`rotator resume\` retires it`;
  }
  return `${previous} is kept in the stores beside the new one until ${kept.keepSeconds} s after the revoke`;
}
