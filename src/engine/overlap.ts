/**
 * Unfinished runs of *other* configs that share a store with this one. A run belongs to the config it was
 * started with (its credentialKey), but a store belongs to every config naming it: while config X's run is
 * unfinished (say, awaiting consumers), a config Y naming one of X's stores must not rotate it, or it would
 * revoke the key X's other stores still hold.
 */

import { ExitCode, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { type EngineContext, ownsRun } from "./context.js";
import { defaultStateDir, isUnfinished, type RunSummary } from "./journal.js";
import { knownHoldersOf } from "./known-configs.js";
import { describeIdentity, type StoreRef } from "./lock.js";
import { stateOf } from "./state/index.js";
import type { Operation } from "./step-table.js";
import { tokenConfigHolders } from "./token-slot.js";

/** The identities of the stores a run writes, from its run-started record. */
export function runStoreIdentities(run: RunSummary): string[] {
  return (run.started?.stores ?? []).map((store) => store.identity ?? `${store.type}:${store.location}`);
}

export interface Overlap {
  run: RunSummary;
  /** This config's stores that the run writes too. */
  shared: StoreRef[];
}

type OverlapContext = Pick<
  EngineContext,
  "loaded" | "stores" | "stateDir" | "state" | "env" | "refs" | "credentialKey" | "legacyCredentialKeys"
>;

/** Whether a journaled store identity is one of ours (as this rotator or rotator 0.1 spelt it). */
function isOurs(ref: OverlapContext["refs"][number], identity: string): boolean {
  return ref.identity === identity || ref.legacyIdentity === identity;
}

/**
 * Unfinished runs started by another config (another credentialKey) sharing a store with this one, or started
 * from this very config file before its stores changed (even none in common: the run is still this file's to
 * finish), oldest first.
 */
export async function overlappingRuns(context: OverlapContext): Promise<Overlap[]> {
  return (await stateOf(context).listRuns())
    .filter((run) => run.started !== undefined && !ownsRun(context, run.started.credentialKey) && isUnfinished(run))
    .map((run) => {
      const theirs = runStoreIdentities(run);
      return { run, shared: context.refs.filter((ref) => theirs.some((identity) => isOurs(ref, identity))) };
    })
    .filter((overlap) => overlap.shared.length > 0 || isFromThisFile(context, overlap.run));
}

/** A run this config file started, for the same account and credential type (its stores may since differ). */
function isFromThisFile(context: OverlapContext, run: RunSummary): boolean {
  const started = run.started;
  const { config, file } = context.loaded;
  return (
    started?.configFile === file &&
    started.accountSid === config.twilio.accountSid &&
    started.credentialType === config.credential.type
  );
}

/**
 * Stores outside this config known to hold a given credential now: by this state's journals (the latest run
 * that wrote each store), or by a config sharing a store with this one whose other stores were read just now
 * (engine/known-configs.ts).
 */
export interface OtherHolder {
  /** The config file holding those stores, when known. */
  configFile: string | undefined;
  /** The latest run that wrote (or kept) the credential in these stores, when a journal says so. */
  run?: RunSummary;
  /** The host of a config known from its record rather than a run. */
  host?: string;
  /** The mark in the Twilio account by which a config rotating its Auth Token is known (token-slot.ts). */
  mark?: { sid: string; name: string };
  stores: Array<{ name: string; location: string; identity: string; unreadable?: string }>;
}

/**
 * The credentials a run's stores (and their consumers) may hold: what a finished run left, the new one if it
 * completed, the old one if rolled back; both for a run not finished yet (awaiting consumers, crashed), whose
 * consumers may still use the old one and whose rollback would put it back.
 */
function credentialsHeldBy(run: RunSummary): string[] {
  // A finished run's answer never changes, and a fleet asks it of every run once per account.
  const known = heldByFinished.get(run);
  if (known !== undefined) return known;
  const held = credentialsHeldByNow(run);
  if (!isUnfinished(run)) heldByFinished.set(run, held);
  return held;
}

const heldByFinished = new WeakMap<RunSummary, string[]>();

function credentialsHeldByNow(run: RunSummary): string[] {
  // A sync's credential is the operator's, but its stores hold it all the same.
  const issued = run.records.flatMap((r) =>
    r.event === "credential-issued" || r.event === "credential-supplied" ? [r.newId] : [],
  )[0];
  const held = isUnfinished(run)
    ? [oldKeyOf(run), issued]
    : run.finished?.status === "completed"
      ? [issued ?? oldKeyOf(run)]
      : run.finished?.status === "rolled-back"
        ? [oldKeyOf(run)]
        : [];
  return held.filter((id): id is string => id !== undefined);
}

function oldKeyOf(run: RunSummary): string | undefined {
  const record = run.records.find((r) => r.event === "preflight-passed");
  return record?.event === "preflight-passed" && record.oldId !== "" ? record.oldId : undefined;
}

/**
 * Before a revoke: which stores *outside* this config are known to hold `credentialId`, by the latest run of
 * any config that wrote each store, and by reading the other stores of every config recorded as sharing a
 * store with this one (a config refused at the lock has journaled nothing, but was recorded before it tried).
 * Two configs sharing one store share its credential: revoking it for one config strands the other config's
 * stores, which no lock or consumer check of this run would notice. Asked by rotate under its locks, and again
 * just before the revoke (the no-other-holders step, step-runs.ts), when a config that came since is known too.
 */
export async function otherHolders(
  context: OverlapContext & Pick<EngineContext, "issuer" | "reporter">,
  credentialId: string,
): Promise<OtherHolder[]> {
  const journaled = await journaledHolders(context, credentialId);
  const named = new Set(journaled.flatMap((holder) => holder.stores.map((store) => store.identity)));
  const known = (await knownHoldersOf(context, credentialId))
    .map(
      (holder): OtherHolder => ({
        configFile: holder.config.configFile,
        host: holder.config.host,
        stores: holder.stores.filter((store) => !named.has(store.identity)),
      }),
    )
    .filter((holder) => holder.stores.length > 0);
  // An Auth Token is held by every config of its account: those marked in Twilio, seen from any state.
  const counted = new Set(journaled.flatMap((holder) => holder.run?.started?.credentialKey ?? []));
  const token = await tokenConfigHolders(context, credentialId, counted);
  return [...journaled, ...known, ...token];
}

async function journaledHolders(context: OverlapContext, credentialId: string): Promise<OtherHolder[]> {
  const latest = new Map<string, { run: RunSummary; name: string; location: string; held: string[] }>();
  for (const run of await stateOf(context).listRuns()) {
    if (run.started === undefined) continue;
    const held = credentialsHeldBy(run);
    for (const store of run.started.stores) {
      latest.set(store.identity ?? `${store.type}:${store.location}`, {
        run,
        name: store.name,
        location: store.location,
        held,
      });
    }
  }
  const byRun = new Map<string, OtherHolder>();
  for (const [identity, entry] of latest) {
    if (!entry.held.includes(credentialId)) continue;
    if (context.refs.some((ref) => isOurs(ref, identity))) continue;
    const holder = byRun.get(entry.run.runId) ?? {
      configFile: entry.run.started?.configFile,
      run: entry.run,
      stores: [],
    };
    holder.stores.push({ name: entry.name, location: entry.location, identity });
    byRun.set(entry.run.runId, holder);
  }
  return [...byRun.values()];
}

/** `store c (dotenv file /c.env) of config /y.yaml (run R)`, one per holder. */
export function describeHolders(holders: OtherHolder[]): string {
  return holders
    .map((holder) => {
      const stores = holder.stores
        .map(
          (s) =>
            `${s.name} (${s.location}${s.unreadable === undefined ? "" : `; could not be read, so it may: ${s.unreadable}`})`,
        )
        .join(", ");
      if (holder.mark !== undefined && holder.run === undefined) {
        return `a config marked in the account as rotating its Auth Token (API key ${maskSid(holder.mark.sid)} "${holder.mark.name}"), which this state does not know (its journal is in another state directory, database or host), so its stores are presumed to hold it`;
      }
      const config = holder.configFile ?? "another config";
      const origin =
        holder.run !== undefined
          ? `run ${holder.run.runId}${isUnfinished(holder.run) ? ", not finished: its consumers may still use it" : ""}`
          : `which shares a store with this config; known from its last command${holder.host === undefined ? "" : ` on ${holder.host}`}`;
      return `${holder.stores.length === 1 ? "store" : "stores"} ${stores} of config ${config} (${origin})`;
    })
    .join("; ");
}

/** Exit 6: revoking would strand stores of another config. */
export function sharedCredentialError(holders: OtherHolder[], credentialId?: string): RotatorError {
  const key = credentialId === undefined ? "the current credential" : maskSid(credentialId);
  return new RotatorError(
    `${key} is also held by ${describeHolders(holders)}, outside this config; revoking it would leave them with a dead credential`,
    {
      exitCode: ExitCode.unfinishedRun,
      hint: `${holders.some((holder) => holder.run !== undefined && isUnfinished(holder.run)) ? "finish (or roll back) the unfinished run named first; then " : ""}rotate every store that holds it in one run: add those stores to this config (one config per credential), or pass --allow-shared-revoke once you have checked that they no longer use it${holders.some((holder) => holder.mark !== undefined) ? "; a config retired for good: delete its mark (the API key named above, Console > Account > API keys & tokens)" : ""}`,
    },
  );
}

/** `run R of config /x.yaml is not finished and shares store app-1 (dotenv file /a.env) with this config`. */
export function describeOverlap(context: OverlapContext, overlap: Overlap): string {
  const { run, shared } = overlap;
  const configFile = run.started?.configFile;
  const origin =
    configFile === undefined
      ? "of another config (started by an older rotator, which did not journal its config file)"
      : configFile === context.loaded.file
        ? `of this config file as it was before its stores changed (then: ${(run.started?.stores ?? []).map((s) => s.name).join(", ")}; ${storeChanges(run, context.refs).join("; ")})`
        : `of config ${configFile}`;
  if (shared.length === 0) return `run ${run.runId} ${origin} is not finished`;
  const stores = shared.map((store) => `${store.name} (${describeIdentity(store.identity)})`).join(", ");
  return `run ${run.runId} ${origin} is not finished and shares ${shared.length === 1 ? "store" : "stores"} ${stores} with this config`;
}

/** How a config's stores differ from a run's, store by store: moved, no longer listed, added. */
export function storeChanges(run: RunSummary, refs: readonly StoreRef[]): string[] {
  const then = run.started?.stores ?? [];
  const changes: string[] = [];
  for (const store of then) {
    const identity = store.identity ?? `${store.type}:${store.location}`;
    if (refs.some((ref) => isOurs(ref, identity))) continue;
    const renamed = refs.find((ref) => ref.name === store.name);
    changes.push(
      renamed === undefined
        ? `store ${store.name} (${store.location}) is no longer listed`
        : `store ${store.name} moved: the run wrote ${store.location}, this config names ${renamed.display ?? describeIdentity(renamed.identity)}`,
    );
  }
  for (const ref of refs) {
    const known = then.some((store) => isOurs(ref, store.identity ?? `${store.type}:${store.location}`));
    if (!known && !then.some((store) => store.name === ref.name)) {
      changes.push(`store ${ref.name} (${ref.display ?? describeIdentity(ref.identity)}) was added`);
    }
  }
  return changes;
}

/** The command that finishes (or undoes) the run, with the config and state directory it needs. */
export function commandFor(context: OverlapContext, overlap: Overlap, command: "resume" | "rollback"): string {
  const configFile = overlap.run.started?.configFile;
  const config = configFile === undefined ? " --config <its config file>" : ` --config ${configFile}`;
  const stateDir = context.stateDir === defaultStateDir(context.env) ? "" : ` --state-dir ${context.stateDir}`;
  return `rotator ${command}${config}${stateDir}`;
}

/**
 * Exit 6 when an unfinished run of another config shares a store with this one: `rotate` and `sync` must not
 * touch those stores, and `resume`/`rollback` of this config have nothing of their own to do but must say whose
 * run is in the way instead of "nothing to resume".
 */
export async function refuseOverlappingRun(context: OverlapContext, operation: Operation): Promise<void> {
  const error = await overlapError(context, operation);
  if (error !== undefined) throw error;
}

/** The error refuseOverlappingRun throws, or undefined when no other config's unfinished run shares a store. */
export async function overlapError(context: OverlapContext, operation: Operation): Promise<RotatorError | undefined> {
  const overlap = (await overlappingRuns(context)).at(-1);
  if (overlap === undefined) return undefined;
  const what = describeOverlap(context, overlap);
  const resume = `\`${commandFor(context, overlap, "resume")}\``;
  const rollback = `\`${commandFor(context, overlap, "rollback")}\``;
  const changed =
    overlap.run.started?.configFile === context.loaded.file
      ? "put the config's stores back as they were when the run started, then "
      : "";
  const finishFirst = `${changed}finish that run first with ${resume} (or undo it with ${rollback})`;
  // What each operation says, by the operation (step-table.ts): a new run's reason to wait, or whose run to finish.
  const words: Record<Operation, { message: string; hint: string }> = {
    rotate: { message: what, hint: `${finishFirst}; rotating now could revoke the key that run's stores still hold` },
    sync: {
      message: what,
      hint: `${finishFirst}; syncing now would overwrite the credential that run is putting into its stores`,
    },
    resume: {
      message: `nothing of this config to resume, but ${what}`,
      hint: `${changed}resume it with the config it was started with: ${resume}`,
    },
    rollback: {
      message: `no unfinished run of this config to roll back, but ${what}`,
      hint: `${changed}roll it back with the config it was started with: ${rollback}`,
    },
  };
  const { message, hint } = words[operation];
  return new RotatorError(message, { exitCode: ExitCode.unfinishedRun, hint });
}
