/**
 * The engine's light public entry, beside ./index.ts (the operations that change stores, and plan) and
 * ./result.ts (the result shape, all that `version` and `validate` need): what every command needs around an
 * operation, and the operations that only read. Building and closing an engine context, opening the state (a
 * config's, or a state directory's journals), the `status` operation and the progress reporters.
 *
 * Loading it loads none of that machinery: a command that only reads the journals does not pay for the
 * operations, the store providers or the live progress block. Each function below whose code is heavy loads its
 * module on the first call (`onFirstCall`), or earlier when asked to (`preload`, so that it loads while the
 * config does); what is exported as it is (results, line reporters, the interruption switch, the words for a
 * credential's origin) is small and loads nothing else of the engine. test/unit/layer-boundaries.test.ts keeps
 * commands on these three entries.
 */
import type { LocalStateBackend } from "./state/local.js";

export type { EngineContext } from "./context.js";
export { describeOrigin } from "./credential-origin.js";
export { type Interruption, interruptionSwitch } from "./interrupt.js";
export { lineReporter, type Reporter, type ReporterStyle, silentReporter } from "./line-reporter.js";
export type { StatusResult } from "./operations/status.js";
export { type CommandResult, emptyResult, RESULT_SCHEMA_VERSION } from "./result.js";
export type { StateBackendPool } from "./state/index.js";
export { CHECK_EXIT_CODES, type CheckState } from "./status-check.js";
export type { ConfirmationSteps } from "./unfinished-run.js";

/** A function whose module loads on its first call (not with this entry), or on `preload()`, whichever is first. */
export type LoadedOnCall<Args extends unknown[], Result> = ((...args: Args) => Promise<Awaited<Result>>) & {
  /** Start loading its code now, to overlap other work; a failure to load is left to the call, which reports it. */
  preload(): void;
};

function onFirstCall<Args extends unknown[], Result>(
  load: () => Promise<(...args: Args) => Result>,
): LoadedOnCall<Args, Result> {
  let loading: Promise<(...args: Args) => Result> | undefined;
  const loaded = () => {
    loading ??= load();
    return loading;
  };
  const call = async (...args: Args): Promise<Awaited<Result>> => {
    const run = await loaded();
    return await run(...args);
  };
  return Object.assign(call, {
    preload: () => {
      loaded().catch(() => undefined);
    },
  });
}

/** The engine's context for a loaded config: its issuer, stores, consumers and state (./context.ts). */
export const buildContext = onFirstCall(async () => (await import("./context.js")).buildContext);
export const closeContext = onFirstCall(async () => (await import("./context.js")).closeContext);

/** The state a config names (`state:`: local files, or PostgreSQL), where its journals and locks are. */
export const openStateBackend = onFirstCall(async () => (await import("./state/index.js")).openStateBackend);

/** The journals of a state directory, read without a config (`doctor` with none). */
export async function stateDirectoryJournals(stateDir: string): Promise<LocalStateBackend> {
  return new (await import("./state/local.js")).LocalStateBackend(stateDir);
}

/** `rotator status`: the current credential, its age, locks and recent runs; changes nothing. */
export const status = onFirstCall(async () => (await import("./operations/status.js")).status);

/**
 * Progress on a stream: plain lines, and on a terminal the live block redrawn in place (./reporter.ts, which
 * brings log-update: loaded here on the first call).
 */
export const streamReporter = onFirstCall(async () => (await import("./reporter.js")).streamReporter);
