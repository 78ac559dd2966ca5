/**
 * Running `rotator watch`: load the config once, then check until SIGINT/SIGTERM (or once). Each check is
 * one line on stdout (one JSON object per line with --json); notifications and their warnings on stderr.
 */
import { resolve } from "node:path";
import { makeOutput } from "../../cli/output.js";
import { resolveConfigPath, resolveStateDir } from "../../config/paths.js";
import {
  buildContext,
  closeContext,
  type EngineContext,
  openStateBackend,
  RESULT_SCHEMA_VERSION,
  type StateBackendPool,
  streamReporter,
} from "../../engine/read.js";
import { ExitCode, errorMessage, RotatorError } from "../../errors.js";
import { formatDuration } from "../../util/duration.js";
import { redactedJson } from "../../util/mask.js";
import type { WatchCheck } from "../../watch/check.js";
import type { CommandContext } from "../shared/command-context.js";
import { renderRun } from "../shared/render-run.js";
import { errorResult } from "../shared/run-config-command.js";
import type { WatchCommandOptions } from "./options.js";

export async function runWatchCommand(options: WatchCommandOptions, { runtime, exit }: CommandContext): Promise<void> {
  const output = makeOutput(runtime, runtime.env, options.color);
  const reporter = await streamReporter(runtime.stderr, output.err);
  const stop = new AbortController();
  const unsubscribe = runtime.onSignal((signal) => {
    reporter.warn(`${signal}: stopping after the check in progress`);
    stop.abort();
  });
  let context: EngineContext | undefined;
  let state: StateBackendPool | undefined;
  let metricsServer: { port: number; close(): Promise<void> } | undefined;
  try {
    const [{ loadConfig }, { watchLoop }, { WatchMetrics }, { deliverAll }] = await Promise.all([
      import("../../config/load.js"),
      import("../../watch/watch.js"),
      import("../../watch/metrics.js"),
      import("../../notify/deliver.js"),
    ]);
    const configPath = resolve(
      runtime.cwd,
      resolveConfigPath({ flag: options.config, env: runtime.env, cwd: runtime.cwd }),
    );
    const loaded = await loadConfig(configPath, runtime.env);
    (await import("../../fleet/units.js")).refuseFleetConfig(
      loaded,
      "watch",
      `for a fleet, run \`rotator status --check --config ${loaded.file}\` on a schedule: it exits non-zero when any account is due, unfinished or has a problem`,
    );
    const stateDir = resolve(runtime.cwd, resolveStateDir({ flag: options.stateDir, env: runtime.env }));
    // The last run watch reports is read where the config keeps its journals (state:).
    state = await openStateBackend(loaded.config.state, { stateDir, env: runtime.env, configFile: loaded.file });
    context = await buildContext(loaded, { stateDir, state: state.view(), reporter, env: runtime.env });
    const metrics = options.metricsPort === undefined ? undefined : new WatchMetrics();
    const { metricsPort, metricsHost } = options;
    if (metrics !== undefined && metricsPort !== undefined) {
      const serving = await metrics.serve(metricsPort, metricsHost).catch((error: unknown) => {
        throw metricsListenError(error, metricsHost, metricsPort);
      });
      metricsServer = serving;
      reporter.step(`metrics on http://${metricsHost}:${serving.port}/metrics`);
    }
    if (!options.once) {
      reporter.step(`watching ${loaded.file} every ${formatDuration(options.interval)} (Ctrl-C to stop)`);
    }
    let failing = false;
    await watchLoop(context, {
      intervalMs: options.interval,
      once: options.once === true,
      metrics,
      signal: stop.signal,
      notify: (payload) =>
        deliverAll(loaded.config.notify, payload, {
          env: runtime.env,
          onDelivered: (target) => reporter.info(`notified ${target}: ${payload.event}`),
        }),
      onCheck: (check) => {
        failing = !check.healthy;
        for (const warning of check.warnings) reporter.warn(warning);
        if (options.json) {
          runtime.stdout.write(
            `${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, command: "watch", ...check })}\n`,
          );
        } else output.print(checkLine(check, output.out));
      },
    });
    exit.code = options.once && failing ? ExitCode.badInput : ExitCode.completed;
  } catch (error) {
    const result = errorResult("watch", error);
    if (options.json) runtime.stdout.write(`${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, ...result })}\n`);
    else renderRun(result, output);
    exit.code = result.exitCode;
  } finally {
    unsubscribe();
    await metricsServer?.close();
    if (context !== undefined) await closeContext(context);
    await state?.close();
  }
}

/** Why the metrics server could not listen, in the options' terms, and what to do (exit 2: bad input). */
function metricsListenError(error: unknown, host: string, port: number): RotatorError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `--metrics-host ${host} --metrics-port ${port}`;
  const [what, hint] =
    code === "EADDRINUSE"
      ? [
          `port ${port} on ${host} is already in use`,
          "pick another --metrics-port, or stop what listens there (ss -ltnp)",
        ]
      : code === "EADDRNOTAVAIL"
        ? [
            `${host} is not an address of this machine`,
            "give one of its addresses (ip -brief address), 127.0.0.1, or 0.0.0.0 for all",
          ]
        : code === "ENOTFOUND" || code === "EAI_AGAIN"
          ? [`${host} does not resolve to an address`, "give an IP address, or a name this machine resolves"]
          : code === "EACCES"
            ? [
                `listening on port ${port} is not permitted`,
                "ports below 1024 need root (or CAP_NET_BIND_SERVICE): pick a port from 1024 up",
              ]
            : [`cannot listen (${code ?? errorMessage(error)})`, "check --metrics-host and --metrics-port"];
  return new RotatorError(`${where}: ${what}; watch did not start`, { exitCode: ExitCode.badInput, hint });
}

function checkLine(check: WatchCheck & { notified?: string }, s: ReturnType<typeof makeOutput>["out"]): string[] {
  const time = check.checkedAt.slice(11, 19);
  const notified = check.notified === undefined ? "" : s.dim(` (notified: ${check.notified})`);
  if (check.healthy) {
    const age =
      check.credential === null
        ? ""
        : `, ${check.credential.id} ${Math.floor(check.credential.ageSeconds / 86_400)} days old`;
    return [
      `${s.ok(s.tick)} check ${check.check} ${time}: healthy: ${check.stores.length} store(s) authenticate, ${check.consumers.filter((c) => c.converged).length}/${check.consumers.length} consumer(s) converged${age}${notified}`,
    ];
  }
  return [
    `${s.fail(s.cross)} check ${check.check} ${time}: ${s.fail("failing")}${notified}`,
    ...check.problems.map((problem) => `    ${problem}`),
  ];
}
