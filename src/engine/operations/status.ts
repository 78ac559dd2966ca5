/**
 * `rotator status`: the current key (masked), its age from Twilio's date_created, whether it is due, and
 * the recent runs of this credential from the journal. Read-only: it changes no store, lock or journal.
 */
import { credentialId } from "../../credentials/stored.js";
import { ExitCode } from "../../errors.js";
import { maskSid } from "../../util/mask.js";
import { type EngineContext, ownsRun } from "../context.js";
import { runThatMade } from "../credential-origin.js";
import { isUnfinished, type JournalRecord } from "../journal.js";
import { describeIdentity, describeOwner, overallLockState } from "../lock.js";
import { overlapError } from "../overlap.js";
import { runPreflight } from "../preflight.js";
import { unfinishedRunFor } from "../reenter.js";
import type { CommandResult } from "../result.js";
import { previousFromJournal } from "../retire.js";
import { stateOf } from "../state/index.js";
import { CHECK_EXIT_CODES, type CheckState } from "../status-check.js";

export interface StatusResult extends CommandResult {
  currentKey: string | null;
  createdAt: string | null;
  /** The run of these journals that made the current credential; null when none did (made by hand). */
  madeByRun: string | null;
  ageDays: number | null;
  /** Why the age is unknown, when it is (a token's age is the journal's; a clock behind Twilio's). */
  ageUnknownBecause?: string;
  due: boolean | null;
  /** All stores' locks in one word: held if any is held, else stale if any is stale, else free. */
  lock: "free" | "held" | "stale";
  /** Each store's lock, in config order; `owner` names the run holding it. */
  locks: Array<{ store: string; location: string; state: "free" | "held" | "stale"; owner?: string }>;
  problems: string[];
  /** With `--check`: the one word monitoring alerts on, and the exit code that says it (CHECK_EXIT_CODES). */
  check?: { state: CheckState; summary: string };
  runs: Array<{
    runId: string;
    command: string;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    /** The host the run started on (state on PostgreSQL holds every host's runs). */
    host?: string;
    next?: string;
    /**
     * What an unfinished run was last seen waiting for: each lagging consumer with its word (a `kubernetes`
     * consumer's lagging pods by name), each synced store that had not followed.
     */
    waitingFor?: string[];
    /** An Auth Token run whose stores keep the previous token (for webhooks): kept, pending retirement, or retired. */
    previous?: string;
  }>;
  /** Where the runs and locks are: `state directory /x`, `PostgreSQL database h:5432/db`. */
  state: string;
}

export async function status(
  context: EngineContext,
  options: { limit?: number; check?: boolean; graceDays?: number } = {},
): Promise<StatusResult> {
  const { config } = context.loaded;
  const preflight = await runPreflight(context);
  const currentId = preflight.current === undefined ? undefined : credentialId(preflight.current);
  const age = preflight.currentAge;
  const created = age?.birth.at;
  const ageDays = age === undefined || age.skewed ? null : age.days;
  const ageUnknownBecause =
    currentId === undefined || ageDays !== null
      ? undefined
      : age?.skewed
        ? "this machine's clock is behind Twilio's"
        : preflight.currentInfo === undefined
          ? "Twilio does not know it, or the admin credential was refused"
          : `Twilio does not say when a ${context.issuer.labels.noun} was made, and no rotation of it is journaled here`;
  const state = stateOf(context);
  const locks = await state.inspectLocks(context.refs);
  const live = await state.liveRunIds();
  // Another config's unfinished run sharing a store blocks `rotate` of this one, as plan reports.
  const overlap = await overlapError(context, "rotate");
  const journaled = await state.listRuns();
  const runs = journaled
    .filter((run) => ownsRun(context, run.started?.credentialKey))
    .slice(-(options.limit ?? 10))
    .map((run) => ({
      runId: run.runId,
      command: run.started?.command ?? "?",
      // A run whose process still holds its locks is running, whatever its journal says so far.
      status: live.has(run.runId)
        ? "running"
        : (run.finished?.status ?? (isUnfinished(run) ? "interrupted" : "unknown")),
      startedAt: run.started?.ts ?? "",
      finishedAt: run.finished?.ts ?? null,
      ...(run.started?.host === undefined ? {} : { host: run.started.host }),
      ...(run.finished?.next === undefined ? {} : { next: run.finished.next }),
      ...(isUnfinished(run) ? waitingFor(run.records) : {}),
      ...previousOf(run.records, context.issuer.labels.noun),
    }));
  // A run still in preflight holds its stores' locks but has no journal yet: it is running too.
  for (const { lock } of locks) {
    if (lock.state !== "held" || lock.owner === undefined) continue;
    if (runs.some((run) => run.runId === lock.owner?.runId)) continue;
    runs.push({
      runId: lock.owner.runId,
      command: lock.owner.command,
      status: "running",
      startedAt: lock.owner.since,
      finishedAt: null,
      host: lock.owner.host,
      next: "preflight: it has changed nothing yet",
    });
  }
  const due = ageDays === null ? null : ageDays >= config.credential.maxAgeDays;
  const problems =
    overlap === undefined ? preflight.problems : [...preflight.problems, `${overlap.message}; ${overlap.hint}`];
  const check = options.check
    ? await checkVerdict(context, { ageDays, problems, graceDays: options.graceDays ?? 1 })
    : undefined;
  return {
    command: "status",
    status: "completed",
    exitCode: check === undefined ? ExitCode.completed : CHECK_EXIT_CODES[check.state],
    ...(check === undefined ? {} : { check }),
    runId: null,
    credentialType: config.credential.type,
    oldKey: null,
    newKey: null,
    stores: [],
    consumers: [],
    warnings: preflight.notes,
    currentKey: currentId === undefined ? null : maskSid(currentId),
    createdAt: created?.toISOString() ?? null,
    madeByRun: currentId === undefined ? null : (runThatMade(journaled, currentId)?.runId ?? null),
    ageDays,
    ...(ageUnknownBecause === undefined ? {} : { ageUnknownBecause }),
    due,
    lock: overallLockState(locks),
    locks: locks.map(({ name, identity, lock }) => ({
      store: name,
      location: describeIdentity(identity),
      state: lock.state,
      ...(lock.state === "free" ? {} : { owner: describeOwner(lock.owner) }),
    })),
    problems,
    runs,
    state: state.description,
  };
}

async function checkVerdict(
  context: EngineContext,
  facts: { ageDays: number | null; problems: string[]; graceDays: number },
): Promise<{ state: CheckState; summary: string }> {
  const maxAge = context.loaded.config.credential.maxAgeDays;
  const unfinished = await unfinishedRunFor(context);
  if (unfinished !== undefined && !(await stateOf(context).liveRunIds()).has(unfinished.runId)) {
    return { state: "unfinished", summary: `run ${unfinished.runId} is unfinished: run \`rotator resume\`` };
  }
  if (facts.problems.length > 0) {
    return { state: "problems", summary: `${facts.problems.length} problem(s): ${facts.problems[0]}` };
  }
  const { ageDays } = facts;
  if (ageDays !== null && ageDays >= maxAge + facts.graceDays) {
    return {
      state: "overdue",
      summary: `the credential is ${ageDays} days old, due since day ${maxAge}: the scheduled rotation is not happening`,
    };
  }
  if (ageDays !== null && ageDays >= maxAge) {
    return { state: "due", summary: `the credential is ${ageDays} days old: due (maxAgeDays ${maxAge})` };
  }
  return {
    state: "ok",
    summary: ageDays === null ? "nothing due" : `the credential is ${ageDays} days old, due at ${maxAge}`,
  };
}

function previousOf(records: JournalRecord[], noun: string): { previous?: string } {
  const previous = previousFromJournal(records, noun);
  return previous === undefined ? {} : { previous };
}

/** What the run's journal last said it waited for (see `runs[].waitingFor`); nothing when it waited for nothing. */
function waitingFor(records: JournalRecord[]): { waitingFor?: string[] } {
  const lagging: string[] = [];
  const synced = records.filter((r) => r.event === "stores-synced").at(-1);
  if (synced?.event === "stores-synced" && !synced.converged) lagging.push(...synced.laggards);
  const checked = records.filter((r) => r.event === "consumers-checked").at(-1);
  if (checked?.event === "consumers-checked") {
    for (const result of checked.results) {
      if (result.convergedAt === null) lagging.push(`consumer ${result.name}: ${result.detail}`);
    }
  }
  return lagging.length === 0 ? {} : { waitingFor: lagging };
}
