/**
 * Running one command over a fleet: every account is a unit of its own (its context, journal, locks,
 * all-or-nothing and consumer wait, exactly as a single-account config's run), run in parallel under an
 * adaptive limit (fleet/limiter.ts). One account's failure never stops the others; a signal stops new
 * accounts from starting, and the running ones stop between steps as any run does.
 *
 * Memory stays flat with the fleet's size: a unit's context (store providers, Twilio clients) is built
 * when it starts and closed when it ends; only its result is kept.
 */
import type { LoadedConfig } from "../config/load.js";
import { buildContext, closeContext, type EngineContext } from "../engine/context.js";
import { type Interruption, interruptionRequested } from "../engine/interrupt.js";
import { isUnfinished } from "../engine/journal.js";
import type { Reporter } from "../engine/reporter.js";
import { type CommandResult, emptyResult } from "../engine/result.js";
import type { StateBackendPool } from "../engine/state/index.js";
import { ConfigError, DECLINED_NEXT, ExitCode, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { type FleetAccount, fetchAccounts, fleetAccounts } from "./accounts.js";
import { AdaptiveLimiter, type LimiterStats } from "./limiter.js";
import { FleetProgress } from "./progress.js";
import { describeAccount, sharedStoreProblems, unitConfig } from "./units.js";

/** What a fleet command works with: the fleet config and what every unit's context shares. */
export interface FleetContext {
  loaded: LoadedConfig;
  stateDir: string;
  state: StateBackendPool;
  reporter: Reporter;
  env: Readonly<Record<string, string | undefined>>;
  interruption?: Interruption;
}

/**
 * One account's outcome: the command's own result for it (or, when it could not run, the error's), with
 * the account.
 */
export type AccountResult<R extends CommandResult = CommandResult> = (R | CommandResult) & {
  /** The account, masked (`AC…1234`). */
  account: string;
  friendlyName: string | null;
};

export interface FleetSummary {
  accounts: number;
  /** Accounts whose command did what was asked (exit 0). */
  succeeded: number;
  failed: number;
  /** Accounts never started (a signal stopped the fleet). */
  notStarted: number;
  /** How many accounts ended with each status. */
  byStatus: Record<string, number>;
  elapsedMs: number;
  /** Twilio requests the fleet made, and how many were answered 429. */
  requests: number;
  throttled: number;
  /** How far the limiter went down (accounts at once, requests per second). */
  lowestConcurrency: number;
  lowestRate: number | null;
}

export interface FleetResult<R extends CommandResult = CommandResult> extends CommandResult {
  fleet: FleetSummary;
  accounts: Array<AccountResult<R>>;
}

/**
 * How a command runs over a fleet, from its definition (commands/shared/define-command.ts): which accounts
 * it runs for, whether each account starts a run, what a fleet where every account succeeded is called.
 */
export interface FleetTraits {
  /** The command's name, in the fleet's result. */
  name: string;
  /**
   * The accounts it runs for: those the config lists or discovers; those and every account with an
   * unfinished run of this config, listed or not (resume: discovery's filters may no longer match an account
   * half-way through a rotation); or only the accounts with an unfinished run (rollback: the others have
   * nothing to undo).
   */
  accounts: "listed" | "listed-and-unfinished" | "unfinished";
  /**
   * It starts a new run on each account (or plans one): then no two accounts may share a store. Finishing
   * a run that began, or only reading, goes ahead on shared stores.
   */
  startsRuns: boolean;
  /** The status of a fleet where every account succeeded. */
  doneStatus: "completed" | "planned";
}

export interface FleetOptions {
  /** Asked once the accounts are known, before any starts (rotate on a terminal); false cancels. */
  confirm?: (accounts: FleetAccount[]) => Promise<boolean>;
  /** Each account's progress noun ("accounts"), for the progress line. */
  noun?: string;
}

/**
 * Which exit code a fleet ends with when not every account succeeded: the most serious of theirs, so a
 * scheduler alerts on what needs the most attention.
 */
const SEVERITY: number[] = [
  ExitCode.internal,
  ExitCode.needsOperator,
  ExitCode.unfinishedRun,
  ExitCode.locked,
  ExitCode.awaitingConsumers,
  ExitCode.rolledBack,
  ExitCode.badInput,
  ExitCode.interrupted,
  ExitCode.cancelled,
];

export function fleetExitCode(codes: number[]): number {
  const failing = codes.filter((code) => code !== ExitCode.completed);
  if (failing.length === 0) return ExitCode.completed;
  // A code not in the list (a bug's) ranks first.
  const rank = (code: number) => Math.max(0, SEVERITY.indexOf(code));
  return failing.reduce((worst, code) => (rank(code) < rank(worst) ? code : worst));
}

export async function runFleet<R extends CommandResult>(
  traits: FleetTraits,
  fleet: FleetContext,
  perAccount: (context: EngineContext) => Promise<R>,
  options: FleetOptions = {},
): Promise<FleetResult<R>> {
  const { loaded, reporter } = fleet;
  const settings = loaded.config.accounts;
  if (settings === undefined) throw new Error("runFleet: not a fleet config");
  const started = Date.now();
  const limiter = new AdaptiveLimiter({
    requestsPerSecond: settings.requestsPerSecond,
    concurrency: settings.concurrency,
  });
  reporter.step(
    settings.discover === undefined
      ? `fleet: ${settings.list?.length ?? 0} account(s) listed in the config`
      : `fleet: discovering the subaccounts of ${maskSid(loaded.config.twilio.accountSid)}`,
  );
  let accounts = await fleetAccounts(loaded, limiter);
  const command = traits.name;
  if (traits.accounts !== "listed") {
    accounts = await withUnfinished(fleet, accounts, limiter, traits.accounts === "unfinished");
  }
  // Finishing what a run began, or only reading, is fine on shared stores; no run starts on them.
  if (traits.startsRuns) {
    const shared = sharedStoreProblems(loaded, accounts);
    if (shared.length > 0) {
      throw new ConfigError(
        loaded.file,
        shared,
        "each account of a fleet needs stores of its own; nothing was changed",
      );
    }
  }
  reporter.info(
    `${accounts.length} account(s), up to ${settings.concurrency} at once${settings.requestsPerSecond === undefined ? "" : `, at most ${settings.requestsPerSecond} Twilio requests/s`}`,
  );
  if (options.confirm !== undefined && accounts.length > 0 && !(await options.confirm(accounts))) {
    return fleetResult(traits, [], accounts.length, started, limiter.stats(), {
      status: "cancelled",
      exitCode: ExitCode.cancelled,
      next: DECLINED_NEXT,
    });
  }

  const progress = new FleetProgress(reporter, accounts.length, { noun: options.noun ?? "accounts" });
  const results: Array<AccountResult<R> | undefined> = new Array(accounts.length);
  let next = 0;
  let running = 0;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  const runOne = async (index: number, account: FleetAccount) => {
    running += 1;
    progress.started();
    const result = await runUnit(command, fleet, account, limiter, perAccount);
    results[index] = { ...result, account: maskSid(account.sid), friendlyName: account.friendlyName ?? null };
    running -= 1;
    progress.finished(result.exitCode === ExitCode.completed, outcomeLine(account, result));
    signal();
  };
  const inFlight = new Set<Promise<void>>();
  while (next < accounts.length && !interruptionRequested(fleet.interruption)) {
    if (running >= limiter.concurrency) {
      // Woken when an account ends; the timer picks up a concurrency that grew back meanwhile.
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250).unref();
      });
      continue;
    }
    const index = next;
    next += 1;
    const account = accounts[index] as FleetAccount;
    const unit = runOne(index, account);
    inFlight.add(unit);
    void unit.finally(() => inFlight.delete(unit));
  }
  await Promise.all(inFlight);
  progress.end();
  const done = results.filter((result): result is AccountResult<R> => result !== undefined);
  const interrupted = done.length < accounts.length;
  if (interrupted) {
    reporter.warn(
      `${fleet.interruption?.signal ?? "a signal"}: ${accounts.length - done.length} account(s) were not started; run the command again for them`,
    );
  }
  return fleetResult(traits, done, accounts.length, started, limiter.stats(), undefined);
}

/**
 * For resume and rollback (traits.accounts): the listed accounts and every account with an unfinished run of this config,
 * listed or not (discovery's filters may no longer match an account half-way through a rotation); with
 * `onlyUnfinished`, those alone.
 */
async function withUnfinished(
  fleet: FleetContext,
  accounts: FleetAccount[],
  limiter: AdaptiveLimiter,
  onlyUnfinished: boolean,
): Promise<FleetAccount[]> {
  const runs = await fleet.state.view().listRuns();
  const unfinished = new Set(
    runs
      .filter((run) => isUnfinished(run) && run.started?.configFile === fleet.loaded.file)
      .map((run) => run.started?.accountSid as string),
  );
  const known = new Set(accounts.map((account) => account.sid));
  const unlisted = await fetchAccounts(
    fleet.loaded,
    limiter,
    [...unfinished].filter((sid) => !known.has(sid)),
  );
  return [...(onlyUnfinished ? accounts.filter((account) => unfinished.has(account.sid)) : accounts), ...unlisted];
}

async function runUnit<R extends CommandResult>(
  command: string,
  fleet: FleetContext,
  account: FleetAccount,
  limiter: AdaptiveLimiter,
  perAccount: (context: EngineContext) => Promise<R>,
): Promise<R | CommandResult> {
  let context: EngineContext | undefined;
  try {
    const loaded = unitConfig(fleet.loaded, account);
    context = await buildContext(loaded, {
      stateDir: fleet.stateDir,
      state: fleet.state.view(),
      reporter: unitReporter(fleet.reporter, account),
      env: fleet.env,
      throttle: limiter,
      ...(fleet.interruption === undefined ? {} : { interruption: fleet.interruption }),
    });
    return await perAccount(context);
  } catch (error) {
    const known = error instanceof RotatorError;
    return emptyResult(command, "failed", known ? error.exitCode : ExitCode.internal, {
      error: error instanceof Error ? error.message : String(error),
      ...(known && error.hint !== undefined ? { hint: error.hint } : {}),
    });
  } finally {
    if (context !== undefined) await closeContext(context);
  }
}

/**
 * An account's own progress would be a thousand interleaved stories: its steps stay in its journal and
 * result; its warnings are said with the account's name (in a log; a terminal's live line would be torn).
 */
function unitReporter(fleet: Reporter, account: FleetAccount): Reporter {
  const name = describeAccount(account);
  return {
    step() {},
    info() {},
    warn: (text) => {
      if (fleet.live === undefined) fleet.warn(`${name}: ${text}`);
    },
  };
}

/** `AC…1234 (cust-17): completed, SK…a1b2 -> SK…c3d4`. */
export function outcomeLine(account: FleetAccount, result: CommandResult): string {
  const keys = result.newKey ? `, ${result.oldKey ?? "(none)"} -> ${result.newKey}` : "";
  const error = result.exitCode === ExitCode.completed || !result.error ? "" : `: ${oneLine(result.error)}`;
  return `${describeAccount(account)}: ${result.status} (exit ${result.exitCode})${keys}${error}`;
}

/**
 * An error in one line of at most 200 characters: its lines joined, so "preflight failed:" keeps the
 * reason on the next line (a fleet's table and log have one line per account).
 */
export function oneLine(text: string): string {
  const line = text
    .split("\n")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .join(" ");
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function fleetResult<R extends CommandResult>(
  traits: FleetTraits,
  accounts: Array<AccountResult<R>>,
  total: number,
  started: number,
  stats: LimiterStats,
  override: { status: CommandResult["status"]; exitCode: number; next: string } | undefined,
): FleetResult<R> {
  const byStatus: Record<string, number> = {};
  for (const result of accounts) byStatus[result.status] = (byStatus[result.status] ?? 0) + 1;
  const succeeded = accounts.filter((result) => result.exitCode === ExitCode.completed).length;
  const notStarted = total - accounts.length;
  const codes = accounts.map((result) => result.exitCode);
  if (notStarted > 0 && override === undefined) codes.push(ExitCode.interrupted);
  const exitCode = override?.exitCode ?? fleetExitCode(codes);
  const failed = accounts.length - succeeded;
  const error =
    override !== undefined || exitCode === ExitCode.completed
      ? undefined
      : `${failed} of ${total} account(s) did not ${traits.doneStatus === "planned" ? "plan cleanly" : "succeed"}${notStarted > 0 ? `, ${notStarted} not started` : ""}`;
  return {
    ...emptyResult(
      traits.name,
      override?.status ??
        (exitCode === ExitCode.completed ? traits.doneStatus : notStarted > 0 ? "interrupted" : "failed"),
      exitCode,
      { ...(error === undefined ? {} : { error }), ...(override === undefined ? {} : { next: override.next }) },
    ),
    fleet: {
      accounts: total,
      succeeded,
      failed,
      notStarted,
      byStatus,
      elapsedMs: Date.now() - started,
      requests: stats.requests,
      throttled: stats.throttled,
      lowestConcurrency: stats.lowestConcurrency,
      lowestRate: stats.lowestRate,
    },
    accounts,
  };
}
