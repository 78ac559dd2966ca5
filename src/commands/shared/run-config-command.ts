/**
 * Running a command that reads a config: find and load the config (or start the sandbox), build the
 * engine's context, run, print the result (human on stdout, progress on stderr; or `--json`), and set the
 * exit code. Signals during the run ask the engine to stop between steps (engine/interrupt.ts); a second
 * one ends the process at once, which the journal was written to survive.
 */

import { resolve } from "node:path";
import type { Output } from "../../cli/output.js";
import { makeOutput } from "../../cli/output.js";
import type { Runtime } from "../../cli/runtime.js";
import type { LoadedConfig } from "../../config/load.js";
import { resolveConfigPath, resolveStateDir } from "../../config/paths.js";
import {
  buildContext,
  type CommandResult,
  closeContext,
  type EngineContext,
  emptyResult,
  interruptionSwitch,
  lineReporter,
  openStateBackend,
  RESULT_SCHEMA_VERSION,
  type Reporter,
  type StateBackendPool,
  streamReporter,
} from "../../engine/read.js";
import { ExitCode, RotatorError } from "../../errors.js";
import type { FleetContext } from "../../fleet/run.js";
import type { NotifyEvent } from "../../notify/events.js";
import type { Sandbox } from "../../sandbox/index.js";
import { redactedJson } from "../../util/mask.js";
import type { CommandContext, CommonOptions } from "./command-context.js";
import type { CommandTraits } from "./define-command.js";

export interface RunHelpers {
  output: Output;
  sandbox: Sandbox | undefined;
}

/**
 * How a command runs on a fleet config (`accounts:`): its action over the fleet, and how its result is
 * printed. A command without one refuses a fleet config (exit 2).
 */
export interface FleetCommand<F extends CommandResult> {
  action: (fleet: FleetContext, helpers: RunHelpers) => Promise<F>;
  render: (result: F, output: Output, helpers: RunHelpers) => void;
}

/** One invocation of a config-reading command: the definition, the parsed options, and what it does. */
export interface ConfigCommandRun<R extends CommandResult, F extends CommandResult = CommandResult> {
  definition: CommandTraits;
  options: CommonOptions;
  context: CommandContext;
  /** What it does with one account's engine context. */
  action: (context: EngineContext, helpers: RunHelpers) => Promise<R>;
  /** How its result (or an error's) is printed for people. */
  render: (result: R | CommandResult, output: Output, helpers: RunHelpers) => void;
  /** How it runs on a fleet config, when its definition says it takes one. */
  fleet?: FleetCommand<F>;
}

export async function runConfigCommand<R extends CommandResult, F extends CommandResult = CommandResult>({
  definition,
  options,
  context: { runtime, exit },
  action,
  render,
  fleet,
}: ConfigCommandRun<R, F>): Promise<void> {
  const output = makeOutput(runtime, runtime.env, options.color);
  // The live block (log-update and its dependencies) is loaded only for a terminal.
  const reporter = runtime.stderr.isTTY
    ? await streamReporter(runtime.stderr, output.err)
    : lineReporter(runtime.stderr, output.err);
  let sandbox: Sandbox | undefined;
  let result: R | F | CommandResult;
  let fleetRan = false;
  const helpers: RunHelpers = { output, sandbox: undefined };
  try {
    if (options.sandbox) {
      const starting =
        options.startedSandbox ??
        import("../../sandbox/index.js").then(({ startSandbox }) =>
          startSandbox({ stateDir: options.stateDir, credential: options.credential }),
        );
      starting.catch(() => undefined);
      // The sandbox's apps (separate processes) load their modules while this process loads the engine's; a
      // failure to load is reported by executeConfigCommand, which loads them again.
      buildContext.preload();
      await import("../../config/load.js").catch(() => undefined);
      sandbox = await starting;
      helpers.sandbox = sandbox;
      reporter.step(`sandbox: Twilio emulator at ${sandbox.emulator.baseUrl}, stores in ${sandbox.dir}`);
    }
    const env = sandbox?.env ?? runtime.env;
    result = await executeConfigCommand({
      command: definition,
      where: {
        configPath:
          sandbox?.configPath ??
          resolve(runtime.cwd, resolveConfigPath({ flag: options.config, env, cwd: runtime.cwd })),
        stateDir: sandbox?.stateDir ?? resolve(runtime.cwd, resolveStateDir({ flag: options.stateDir, env })),
        env,
      },
      runtime,
      reporter,
      action: (context) => action(context, helpers),
      ...(fleet === undefined
        ? {}
        : {
            fleetAction: async (context: FleetContext) => {
              fleetRan = true;
              return fleet.action(context, helpers);
            },
          }),
    });
  } catch (error) {
    result = errorResult(definition.name, error);
  }
  if (sandbox !== undefined && result.exitCode !== ExitCode.badInput) {
    reporter.step("sandbox: checking the result independently of the engine");
    result = { ...result, sandbox: await sandbox.summary().catch((error: unknown) => ({ error: String(error) })) };
    // The journal goes with the sandbox's directory unless --state-dir put it elsewhere.
    if (options.stateDir === undefined) delete result.journal;
  }
  // Printed before the sandbox goes away, so nothing shown names files that no longer exist.
  if (options.json) {
    runtime.stdout.write(`${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, ...result }, 2)}\n`);
  } else if (fleetRan && fleet !== undefined && "fleet" in result) {
    fleet.render(result as F, output, helpers);
  } else {
    render(result, output, helpers);
  }
  if (sandbox !== undefined) {
    await sandbox.close();
    const kept = options.stateDir === undefined ? " (pass --state-dir DIR to keep its journal)" : "";
    reporter.step(`sandbox: removed ${sandbox.dir}${kept}`);
  }
  exit.code = result.exitCode;
}

/**
 * The core of a config-reading command, printing nothing but progress: load the config, build the engine's
 * context, run `action` with signals asking it to stop between steps, close the context, send the result's
 * notifications its definition lists, and return the result (an error becomes one). `schedule` runs
 * rotations through this too.
 */
export async function executeConfigCommand<R extends CommandResult, F extends CommandResult = CommandResult>({
  command,
  where,
  runtime,
  reporter,
  action,
  fleetAction,
}: {
  command: CommandTraits;
  where: { configPath: string; stateDir: string; env: Readonly<Record<string, string | undefined>> };
  runtime: Runtime;
  reporter: Reporter;
  action: (context: EngineContext) => Promise<R>;
  /** Given for a command whose definition takes a fleet. */
  fleetAction?: (fleet: FleetContext) => Promise<F>;
}): Promise<R | F | CommandResult> {
  const interruption = interruptionSwitch();
  const unsubscribe = runtime.onSignal((signal) => {
    if (interruption.signal !== undefined) {
      reporter.warn(`${signal} again: stopping now; \`rotator resume\` picks the run up from its journal`);
      runtime.hardExit(ExitCode.interrupted);
      return;
    }
    interruption.request(signal);
    reporter.warn(
      `${signal}: finishing the step in progress, then stopping (again to stop at once; \`rotator resume\` picks the run up either way)`,
    );
  });
  let context: EngineContext | undefined;
  let loaded: LoadedConfig | undefined;
  let state: StateBackendPool | undefined;
  let result: R | F | CommandResult;
  try {
    // The state's and the context's code load while the config does.
    openStateBackend.preload();
    buildContext.preload();
    const { loadConfig } = await import("../../config/load.js");
    loaded = await loadConfig(where.configPath, where.env);
    state = await openStateBackend(loaded.config.state, { ...where, configFile: loaded.file });
    if (loaded.fleet !== undefined) {
      if (command.fleet === undefined || fleetAction === undefined) {
        const { COMMANDS } = await import("../registry.js");
        const overFleets = COMMANDS.filter((other) => other.fleet !== undefined).map((other) => other.name);
        throw new RotatorError(
          `\`rotator ${command.name}\` works on one account, and this config names a fleet (accounts:)`,
          {
            exitCode: ExitCode.badInput,
            hint: `${overFleets.slice(0, -1).join(", ")} and ${overFleets.at(-1)} run over a fleet; for this command, give a config without accounts:`,
          },
        );
      }
      result = await fleetAction({
        loaded,
        stateDir: where.stateDir,
        state,
        reporter,
        env: where.env,
        interruption,
      });
    } else {
      context = await buildContext(loaded, {
        stateDir: where.stateDir,
        state: state.view(),
        reporter,
        env: where.env,
        interruption,
      });
      result = await action(context);
    }
  } catch (error) {
    result = errorResult(command.name, error);
  } finally {
    unsubscribe();
    if (context) await closeContext(context);
    await state?.close();
  }
  // After the run is over, whatever its outcome: a notification can only add a warning, never change it.
  if (loaded !== undefined) result = await notifyResult(result, command.notifies, loaded, where.env, reporter);
  return result;
}

export function errorResult(command: string, error: unknown): CommandResult {
  const known = error instanceof RotatorError;
  const status = known && error.exitCode === ExitCode.interrupted ? "interrupted" : "failed";
  return emptyResult(command, status, known ? error.exitCode : ExitCode.internal, {
    error: error instanceof Error ? error.message : String(error),
    ...(known && error.hint !== undefined ? { hint: error.hint } : {}),
  });
}

/**
 * Send the notification a command's result makes, if its definition `notifies` that event (see
 * notify/outcome.ts). A target that fails or hangs is a warning in the result; the status and exit code stay
 * what the run made them.
 */
export async function notifyResult<R extends CommandResult>(
  result: R,
  notifies: readonly NotifyEvent[],
  loaded: LoadedConfig,
  env: Readonly<Record<string, string | undefined>>,
  reporter: Reporter,
): Promise<R> {
  const entries = loaded.config.notify;
  if (entries.length === 0) return result;
  const [{ eventForResult, resultPayload }, { deliverAll }] = await Promise.all([
    import("../../notify/outcome.js"),
    import("../../notify/deliver.js"),
  ]);
  const event = eventForResult(result, notifies);
  if (event === undefined) return result;
  const payload = resultPayload(event, result, {
    accountSid: loaded.config.twilio.accountSid,
    configFile: loaded.file,
  });
  const warnings = await deliverAll(entries, payload, {
    env,
    onDelivered: (target) => reporter.info(`notified ${target}: ${event}`),
  });
  for (const warning of warnings) reporter.warn(warning);
  return warnings.length === 0 ? result : { ...result, warnings: [...result.warnings, ...warnings] };
}
