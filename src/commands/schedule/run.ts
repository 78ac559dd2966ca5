/**
 * `rotator schedule`: croner fires on the cron expression; each firing waits a random jitter, then runs
 * `rotate --if-due` in this process through the same core as the rotate command (so notifications, signals
 * and results are the same), and resumes instead when this config has an unfinished run. croner's `protect`
 * keeps runs from overlapping: a firing while a run (or its jitter) is going is skipped and logged. On start,
 * an unfinished run is resumed before anything else. SIGTERM or SIGINT: no new run starts, the run in
 * progress stops after its current step (the engine's interruption), then the scheduler exits.
 */
import { randomInt } from "node:crypto";
import { resolve } from "node:path";
import { Cron } from "croner";
import { makeOutput } from "../../cli/output.js";
import { resolveConfigPath, resolveStateDir } from "../../config/paths.js";
import { type CommandResult, RESULT_SCHEMA_VERSION, streamReporter } from "../../engine/read.js";
import { ExitCode, errorMessage, RotatorError } from "../../errors.js";
import { formatDuration } from "../../util/duration.js";
import { redactedJson } from "../../util/mask.js";
import { packageVersion } from "../../util/package-root.js";
import { resumeCommand } from "../resume/command.js";
import { rotateCommand } from "../rotate/command.js";
import type { CommandContext } from "../shared/command-context.js";
import { renderRun } from "../shared/render-run.js";
import { errorResult, executeConfigCommand } from "../shared/run-config-command.js";
import type { ScheduleCommandOptions } from "./options.js";

type Decision =
  | { event: "started"; cron: string; next: string | null; jitterMs: number }
  | { event: "fired"; scheduledFor: string | null; jitterMs: number }
  | { event: "skipped"; reason: string }
  | { event: "result"; command: string; status: string; exitCode: number; runId: string | null; detail: string }
  | { event: "stopping"; signal: string; runInProgress: boolean }
  | { event: "stopped"; exitCode: number };

export async function runScheduleCommand(
  options: ScheduleCommandOptions,
  { runtime, exit }: CommandContext,
): Promise<void> {
  const output = makeOutput(runtime, runtime.env, options.color);
  const reporter = await streamReporter(runtime.stderr, output.err);
  const log = (decision: Decision) => {
    const at = new Date().toISOString();
    if (options.json) {
      runtime.stdout.write(
        `${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, command: "schedule", at, ...decision })}\n`,
      );
    } else output.print(`${at} schedule: ${describe(decision)}`);
  };
  const where = {
    configPath: resolve(runtime.cwd, resolveConfigPath({ flag: options.config, env: runtime.env, cwd: runtime.cwd })),
    stateDir: resolve(runtime.cwd, resolveStateDir({ flag: options.stateDir, env: runtime.env })),
    env: runtime.env,
  };
  const refuse = (error: RotatorError) => {
    const result = errorResult("schedule", error);
    if (options.json) {
      runtime.stdout.write(`${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, ...result })}\n`);
    } else renderRun(result, output);
    exit.code = result.exitCode;
  };
  const problem = cronProblem(options);
  if (problem !== undefined) return refuse(problem);
  // A config that does not load now would fail every run the scheduler makes, silently until someone reads its
  // log: refuse to start instead. (A store that is down at start is a run's problem, not the scheduler's.)
  try {
    const { loadConfig } = await import("../../config/load.js");
    await loadConfig(where.configPath, where.env);
  } catch (error) {
    if (error instanceof RotatorError) return refuse(error);
    throw error;
  }

  const stopping = new AbortController();
  let running: Promise<void> | undefined;
  let interruptedRun = false;
  const unsubscribe = runtime.onSignal((signal) => {
    if (stopping.signal.aborted) return; // the run's own handler deals with a second signal
    log({ event: "stopping", signal, runInProgress: running !== undefined });
    stopping.abort();
  });

  const [{ rotate }, { resume }] = await Promise.all([import("../rotate/run.js"), import("../resume/run.js")]);
  const runOne = async (command: "rotate" | "resume"): Promise<CommandResult> => {
    // Run with rotate's and resume's own definitions: they notify as they do when run by hand.
    const result = await executeConfigCommand({
      command: command === "rotate" ? rotateCommand : resumeCommand,
      where,
      runtime,
      reporter,
      action: (context) =>
        command === "rotate" ? rotate(context, { ifDue: true, version: packageVersion() }) : resume(context),
    });
    if (result.exitCode === ExitCode.interrupted) interruptedRun = true;
    log({
      event: "result",
      command: command === "rotate" ? "rotate --if-due" : "resume",
      status: result.status,
      exitCode: result.exitCode,
      runId: result.runId,
      detail: detailOf(result),
    });
    return result;
  };
  const track = (work: () => Promise<void>) => {
    running = work().finally(() => {
      running = undefined;
    });
    return running;
  };

  // First: finish what a previous scheduler (or anyone) left unfinished.
  await track(async () => {
    await runOne("resume");
  });

  const cron = new Cron(
    options.cron,
    {
      protect: () => log({ event: "skipped", reason: "the previous run is still going: runs never overlap" }),
      catch: (error) => reporter.warn(`schedule: ${(error as Error).message}`),
      ...(options.timezone ? { timezone: options.timezone } : {}),
    },
    (self) =>
      track(async () => {
        if (stopping.signal.aborted) return;
        const jitterMs = options.jitter > 0 ? randomInt(0, options.jitter + 1) : 0;
        log({ event: "fired", scheduledFor: self.currentRun()?.toISOString() ?? null, jitterMs });
        if (!(await sleep(jitterMs, stopping.signal))) return;
        const result = await runOne("rotate");
        // This config's unfinished run blocks rotate (exit 6): resume it instead.
        if (
          result.exitCode === ExitCode.unfinishedRun &&
          !stopping.signal.aborted &&
          /for this credential/.test(result.error ?? "")
        ) {
          await runOne("resume");
        }
      }),
  );
  if (!stopping.signal.aborted) {
    log({
      event: "started",
      cron: options.cron,
      next: cron.nextRun()?.toISOString() ?? null,
      jitterMs: options.jitter,
    });
    reporter.step(
      `scheduled: ${options.cron}, jitter up to ${formatDuration(options.jitter)} (Ctrl-C or SIGTERM to stop)`,
    );
  }
  await new Promise<void>((resolve) => {
    if (stopping.signal.aborted) resolve();
    stopping.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  cron.stop();
  await running;
  unsubscribe();
  const code = interruptedRun ? ExitCode.interrupted : ExitCode.completed;
  log({ event: "stopped", exitCode: code });
  exit.code = code;
}

/** Why the cron expression cannot drive a schedule (not one, or never firing), or undefined. */
function cronProblem(options: ScheduleCommandOptions): RotatorError | undefined {
  const hint =
    'five fields (minute hour day-of-month month day-of-week), or six with seconds first: "0 3 * * *" is every night at 03:00';
  let next: Date | null;
  try {
    const job = new Cron(options.cron, { paused: true, ...(options.timezone ? { timezone: options.timezone } : {}) });
    next = job.nextRun();
    job.stop();
  } catch (error) {
    return new RotatorError(
      `--cron "${options.cron}" is not a cron expression: ${errorMessage(error)}; nothing was scheduled`,
      {
        exitCode: ExitCode.badInput,
        hint,
      },
    );
  }
  if (next === null) {
    // croner finds no time at all (a 30 February, a year long past): the scheduler would wait for ever.
    return new RotatorError(
      `--cron "${options.cron}" never fires: no date matches it (a day the month does not have, such as 30 in February?); nothing was scheduled`,
      { exitCode: ExitCode.badInput, hint },
    );
  }
  return undefined;
}

function detailOf(result: CommandResult): string {
  if (result.status === "not-due")
    return `not due: ${result.oldKey ?? "the current credential"} is younger than credential.maxAgeDays`;
  if (result.status === "nothing-to-resume") return "nothing unfinished";
  return (
    [result.error, result.next && `next: ${result.next}`].filter(Boolean).join("; ") ||
    `${result.oldKey ?? "(none)"} -> ${result.newKey ?? "(none)"}`
  );
}

function describe(decision: Decision): string {
  switch (decision.event) {
    case "started":
      return `started on "${decision.cron}", next run ${decision.next ?? "never"}, jitter up to ${formatDuration(decision.jitterMs)}`;
    case "fired":
      return `fired (for ${decision.scheduledFor ?? "now"}); waiting ${formatDuration(decision.jitterMs)} of jitter, then rotate --if-due`;
    case "skipped":
      return `skipped: ${decision.reason}`;
    case "result":
      return `${decision.command}: ${decision.runId === null ? "" : `run ${decision.runId} `}${decision.status} (exit ${decision.exitCode}): ${decision.detail}`;
    case "stopping":
      return `${decision.signal}: stopping${decision.runInProgress ? " after the current step of the run in progress" : ""}`;
    case "stopped":
      return `stopped (exit ${decision.exitCode})`;
  }
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve(true);
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}
