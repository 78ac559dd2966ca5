/**
 * An account has one secondary Auth Token. Two runs rotating one account's token must never interleave (the
 * second's create replaces the first's secondary; its promote ends the primary the first's stores hold), and
 * one config's promote ends the token every other config of the account holds in its stores. Configs sharing
 * a state backend see each other's journals and locks; those of another state directory, database or host see
 * only Twilio. So besides the state's own exclusion, rotator keeps marks in the account itself: API keys known
 * by their names, made with the admin credential, their secrets dropped at once (never used to authenticate).
 *
 * In the state backend:
 * - a lock for the account's token slot, taken with the stores' locks (a lock row on PostgreSQL);
 * - under it, any unfinished Auth Token run of the account (of any config) refuses a new rotate or sync.
 *
 * In the account (marks):
 * - `rotator-token-config-<credential key>`: a config rotates this token. Made by its first rotate, sync,
 *   resume or rollback, before the locks, and kept. The holder check (overlap.ts otherHolders) counts another
 *   config's mark as stores holding the token, unless this state's journals show which stores it has and none
 *   outside this config holds it: a promote would strand them.
 * - `rotator-token-slot-<run id>`: run R holds the account's secondary-token slot. Made once R's journal
 *   exists (so every claim has a journal somewhere) and before R creates its secondary; deleted once R is over.
 *   Another run meeting it refuses: R unfinished in its own state (resume it), or R not journaled there (R
 *   may be running elsewhere). A claim whose run this state shows finished is stale and removed. Two runs
 *   claiming at once: each creates its claim, then lists; whoever sees another's claim gives its own up and
 *   looks again (a later lister always sees an earlier creator's claim, so at most one goes on).
 */

import type { AccountMarks } from "../credentials/issuer.js";
import { credentialTypeOf, isAccountTokenType } from "../credentials/registry.js";
import { ExitCode, errorMessage, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { type EngineContext, ownsRun } from "./context.js";
import { factsOf } from "./facts.js";
import { isUnfinished, type RunSummary } from "./journal.js";
import { type KnownConfig, storesOutsideHolding } from "./known-configs.js";
import type { StoreRef } from "./lock.js";
import type { OtherHolder } from "./overlap.js";
import { stateOf } from "./state/index.js";
import type { RunOutcome, RunState } from "./steps.js";

const SLOT = "rotator-token-slot-";
const REGISTERED = "rotator-token-config-";
/** How many times two runs that claimed at once both give up and look again, before one says so (exit 5). */
const CLAIM_ATTEMPTS = 3;

type SlotContext = Pick<
  EngineContext,
  "loaded" | "issuer" | "refs" | "stateDir" | "state" | "credentialKey" | "legacyCredentialKeys" | "reporter" | "env"
>;

/** The lock of the account's token slot, for an Auth Token config (none for API keys). */
export function tokenSlotRef(context: Pick<EngineContext, "loaded">): StoreRef | undefined {
  const { config } = context.loaded;
  if (!credentialTypeOf(config.credential.type).accountToken) return undefined;
  const where = config.twilio.baseUrl ?? "https://api.twilio.com";
  const display = `the Auth Token slot of account ${config.twilio.accountSid} at ${where}`;
  return { name: "token-slot", identity: `twilio-token-slot:${display}`, display };
}

/** The locks a command takes: every store's, and the account's token slot for an Auth Token config. */
export function lockRefs(context: Pick<EngineContext, "loaded" | "refs">): StoreRef[] {
  const slot = tokenSlotRef(context);
  return slot === undefined ? context.refs : [...context.refs, slot];
}

const claimName = (runId: string) => `${SLOT}${runId}`;
const registrationName = (credentialKey: string) => `${REGISTERED}${credentialKey}`;

interface Mark {
  sid: string;
  /** The run id (a claim) or credential key (a registration) the name carries. */
  of: string;
}

function marksNamed(keys: Array<{ sid: string; friendlyName: string }>, prefix: string): Mark[] {
  return keys
    .filter((key) => key.friendlyName.startsWith(prefix))
    .map((key) => ({ sid: key.sid, of: key.friendlyName.slice(prefix.length) }));
}

/**
 * Mark the account as rotated by this config (before the locks: a config refused at them is known all the
 * same). A failure is said, not fatal: the admin check that follows says what is wrong with the credential.
 */
export async function registerTokenConfig(context: SlotContext): Promise<void> {
  const marks = context.issuer.marks;
  if (marks === undefined) return;
  const name = registrationName(context.credentialKey);
  try {
    if ((await marks.list()).some((key) => key.friendlyName === name)) return;
    await marks.create(name);
  } catch (error) {
    context.reporter.warn(
      `could not mark account ${maskSid(context.loaded.config.twilio.accountSid)} as rotated by this config (API key "${name}"): ${errorMessage(error)}; other configs of the account will not know of this one until it is`,
    );
  }
}

/** Unfinished Auth Token runs of this account in this state, by configs other than this one. */
export async function unfinishedTokenRunsOfAccount(context: SlotContext): Promise<RunSummary[]> {
  if (!credentialTypeOf(context.loaded.config.credential.type).accountToken) return [];
  const account = context.loaded.config.twilio.accountSid;
  return (await stateOf(context).listRuns()).filter(
    (run) =>
      run.started !== undefined &&
      isAccountTokenType(run.started.credentialType) &&
      run.started.accountSid === account &&
      !ownsRun(context, run.started.credentialKey) &&
      isUnfinished(run),
  );
}

function unfinishedTokenRunError(run: RunSummary): RotatorError {
  const config = run.started?.configFile;
  return new RotatorError(
    `run ${run.runId}${config === undefined ? "" : ` of config ${config}`} rotates this account's Auth Token and is not finished: the account has one secondary token, and creating or writing another now would leave that run's stores with a dead one`,
    {
      exitCode: ExitCode.unfinishedRun,
      hint: `finish it first with \`rotator resume${config === undefined ? "" : ` --config ${config}`}\` (or undo it with \`rotator rollback\` and the same options)`,
    },
  );
}

/** Under the locks (the slot's among them): refuse while another config's Auth Token run of the account is unfinished. */
export async function refuseUnfinishedTokenRun(context: SlotContext): Promise<void> {
  const run = (await unfinishedTokenRunsOfAccount(context)).at(-1);
  if (run !== undefined) throw unfinishedTokenRunError(run);
}

/** What another run's claim means for run `runId` (undefined: none yet): stale (remove it), or a refusal. */
async function judgeClaim(context: SlotContext, claim: Mark): Promise<"stale" | RotatorError> {
  const run = await stateOf(context).readRun(claim.of);
  if (run !== undefined && !isUnfinished(run)) return "stale";
  const key = `API key ${maskSid(claim.sid)} "${claimName(claim.of)}"`;
  if (run !== undefined) {
    const config = run.started?.configFile;
    return new RotatorError(
      `the Auth Token slot of account ${maskSid(context.loaded.config.twilio.accountSid)} is claimed by run ${claim.of}${config === undefined ? "" : ` of config ${config}`} (${key}), which is not finished`,
      {
        exitCode: ExitCode.unfinishedRun,
        hint: `finish it first with \`rotator resume${config === undefined ? "" : ` --config ${config}`}\` (or \`rotator rollback\`); it releases the slot when it is over`,
      },
    );
  }
  return new RotatorError(
    `the Auth Token slot of account ${maskSid(context.loaded.config.twilio.accountSid)} is claimed by run ${claim.of} (${key}), which ${stateOf(context).description} does not know: an Auth Token rotation of this account is under way, or unfinished, from another state directory, database or host`,
    {
      exitCode: ExitCode.unfinishedRun,
      hint: `finish that run where it was started (\`rotator resume\` with its config and state); it releases the slot when it is over. If it is gone for good (its state lost), delete that API key (Console > Account > API keys & tokens), then run again`,
    },
  );
}

/** Remove stale claims of other runs; throw the refusal a live or unknown one means. */
async function clearOthers(context: SlotContext, marks: AccountMarks, claims: Mark[], runId: string): Promise<void> {
  for (const claim of claims) {
    if (claim.of === runId) continue;
    const verdict = await judgeClaim(context, claim);
    if (verdict !== "stale") throw verdict;
    await marks.remove(claim.sid);
    context.reporter.info(`removed the stale Auth Token slot claim of run ${claim.of}, which is over`);
  }
}

/**
 * Claim the account's token slot for run `runId`, whose journal exists (see the module's comment). Throws a
 * RotatorError (exit 6, or 5 when another run kept claiming at the same moment) when it may not go on. A run
 * that holds the claim already (a resume, the check before the promote) keeps it: another claim then is a
 * newcomer's, who lists after creating, sees this one and gives its own up; it is waited out, not obeyed.
 */
export async function claimTokenSlot(context: SlotContext, runId: string, journal: RunState["journal"]): Promise<void> {
  const marks = context.issuer.marks;
  if (marks === undefined) return;
  for (let attempt = 1; ; attempt++) {
    const before = marksNamed(await marks.list(), SLOT);
    if (before.some((claim) => claim.of === runId)) {
      await clearOthers(context, marks, await newcomersLeft(marks, before, runId), runId);
      return;
    }
    await clearOthers(context, marks, before, runId);
    await journal.append({ event: "token-slot-claiming", friendlyName: claimName(runId) });
    await marks.create(claimName(runId));
    const others = marksNamed(await marks.list(), SLOT).filter((claim) => claim.of !== runId);
    if (others.length === 0) return;
    // Another run claimed at the same moment: neither may go on with both claims standing. Give ours up and
    // look again: that run's claim is then judged like any other.
    await removeClaimsOf(marks, runId);
    if (attempt >= CLAIM_ATTEMPTS) {
      throw new RotatorError(
        `the Auth Token slot of account ${maskSid(context.loaded.config.twilio.accountSid)} was claimed by run ${others[0]?.of} at the same moment as this run, ${attempt} times`,
        { exitCode: ExitCode.locked, hint: "run again in a moment; two runs never rotate one account's token at once" },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 400)));
  }
}

/** How long a claim holder waits for a newcomer's claim to be given up before judging it. */
const NEWCOMER_WAIT_MS = 5_000;

/** Other runs' claims beside `runId`'s, once those of newcomers have gone (or the wait is over). */
async function newcomersLeft(marks: AccountMarks, claims: Mark[], runId: string): Promise<Mark[]> {
  const deadline = Date.now() + NEWCOMER_WAIT_MS;
  let others = claims.filter((claim) => claim.of !== runId);
  while (others.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    others = marksNamed(await marks.list(), SLOT).filter((claim) => claim.of !== runId);
  }
  return others;
}

async function removeClaimsOf(marks: AccountMarks, runId: string): Promise<void> {
  for (const claim of marksNamed(await marks.list(), SLOT)) {
    if (claim.of === runId) await marks.remove(claim.sid);
  }
}

/** Once run `runId` is over, its claim goes (a failure is said: the claim blocks other hosts until removed). */
export async function releaseTokenSlotIfOver(context: SlotContext, runId: string): Promise<void> {
  const marks = context.issuer.marks;
  if (marks === undefined) return;
  const run = await stateOf(context).readRun(runId);
  if (run === undefined || isUnfinished(run) || !run.records.some((r) => r.event === "token-slot-claiming")) return;
  try {
    await removeClaimsOf(marks, runId);
  } catch (error) {
    context.reporter.warn(
      `could not remove this run's Auth Token slot claim (API key "${claimName(runId)}"): ${errorMessage(error)}; until it is gone, runs of this account from other state directories or hosts are refused: delete it in the Console (Account > API keys & tokens)`,
    );
  }
}

/**
 * Just before the promote: the run's claim still stands and no other run claims the slot (someone may have
 * deleted the claim, or a run elsewhere claimed it meanwhile). A refusal keeps the run unfinished.
 */
export async function slotStillOurs(state: RunState): Promise<RunOutcome | undefined> {
  if (state.context.issuer.marks === undefined || state.mode.kind !== "rotate") return undefined;
  try {
    await claimTokenSlot(state.context, state.journal.runId, state.journal);
    return undefined;
  } catch (error) {
    const refusal = error instanceof RotatorError;
    const outcome: RunOutcome = {
      status: "failed",
      exitCode: refusal ? error.exitCode : ExitCode.needsOperator,
      error: `${refusal ? error.message : `could not check the account's Auth Token slot: ${errorMessage(error)}`}; the new token was not promoted`,
      next: `${refusal ? (error.hint ?? "resolve it") : "once Twilio answers"}; then \`rotator resume\` promotes (or \`rotator rollback\` undoes this run)`,
    };
    state.context.reporter.warn(outcome.error as string);
    return outcome;
  }
}

/** Refuse while another run claims the slot (sync writes the account's token without claiming the slot). */
export async function refuseOtherClaims(context: SlotContext): Promise<void> {
  const marks = context.issuer.marks;
  if (marks === undefined) return;
  for (const claim of marksNamed(await marks.list(), SLOT)) {
    const verdict = await judgeClaim(context, claim);
    if (verdict !== "stale") throw verdict;
  }
}

/**
 * For plan: what would stop a rotate at the token slot (its lock held here, another config's unfinished run of
 * the account, another run's claim), read only.
 */
export async function tokenSlotProblems(context: SlotContext, options: { readMarks: boolean }): Promise<string[]> {
  const slot = tokenSlotRef(context);
  if (slot === undefined) return [];
  const problems: string[] = [];
  const [lock] = await stateOf(context).inspectLocks([slot]);
  if (lock?.lock.state === "held") {
    problems.push(`another run holds ${slot.display}: it rotates or syncs this account's token now`);
  }
  for (const run of await unfinishedTokenRunsOfAccount(context)) {
    const error = unfinishedTokenRunError(run);
    problems.push(`${error.message}; ${error.hint}`);
  }
  const marks = context.issuer.marks;
  if (marks !== undefined && options.readMarks) {
    try {
      for (const claim of marksNamed(await marks.list(), SLOT)) {
        const verdict = await judgeClaim(context, claim);
        if (verdict !== "stale") problems.push(`${verdict.message}; ${verdict.hint}`);
      }
    } catch (error) {
      problems.push(
        `could not list the account's keys to see whether its Auth Token slot is claimed: ${errorMessage(error)}`,
      );
    }
  }
  return problems;
}

/**
 * Other configs marked as rotating this account's token whose stores outside this config hold `id`: known to
 * this state (a journaled run's facts, or the config's record, whose stores are read now), or not known here
 * at all (then their stores are presumed to hold it). `except` names credential keys already accounted for.
 */
export async function tokenConfigHolders(
  context: SlotContext,
  id: string,
  except: ReadonlySet<string>,
): Promise<OtherHolder[]> {
  const marks = context.issuer.marks;
  if (marks === undefined) return [];
  const ours = new Set([context.credentialKey, ...context.legacyCredentialKeys, ...except]);
  const registered = marksNamed(await marks.list(), REGISTERED).filter((mark) => !ours.has(mark.of));
  if (registered.length === 0) return [];
  const state = stateOf(context);
  const runs = await state.listRuns();
  const holders: OtherHolder[] = [];
  for (const mark of registered) {
    const registration = { sid: mark.sid, name: registrationName(mark.of) };
    const known = await knownConfigWithKey(runs, await state.knownConfigs({ credentialKey: mark.of }), mark.of);
    if (known === undefined) {
      holders.push({ configFile: undefined, mark: registration, stores: [] });
      continue;
    }
    const stores = await storesOutsideHolding(context, known.config, id);
    if (stores.length > 0) {
      holders.push({
        configFile: known.config.configFile,
        ...(known.run === undefined ? {} : { run: known.run }),
        mark: registration,
        stores,
      });
    }
  }
  return holders;
}

/** A config with credential key `key` as this state knows it: its latest journaled run's facts, else its record. */
async function knownConfigWithKey(
  runs: RunSummary[],
  records: KnownConfig[],
  key: string,
): Promise<{ config: Pick<KnownConfig, "configFile" | "baseDir" | "stores">; run?: RunSummary } | undefined> {
  const run = runs.filter((r) => r.started?.credentialKey === key && factsOf(r) !== undefined).at(-1);
  const journaled = run === undefined ? undefined : factsOf(run);
  if (run?.started !== undefined && journaled !== undefined) {
    const stores = run.started.stores.map((store, index) => ({
      name: store.name,
      type: store.type,
      location: store.location,
      identity: store.identity ?? `${store.type}:${store.location}`,
      entry: journaled.entries[index] ?? {},
    }));
    return { config: { configFile: run.started.configFile ?? "", baseDir: journaled.facts.baseDir, stores }, run };
  }
  const record = records.filter((config) => config.credentialKey === key).at(-1);
  return record === undefined ? undefined : { config: record };
}
