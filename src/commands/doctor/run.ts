/**
 * Running `rotator doctor`: gather the sources the options name, find and load the config as every command
 * does (a config that cannot be loaded is itself a finding), read the journals (the config's state, else the
 * state directory's), run the checks, print, and exit 0 (healthy) or 2.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { makeOutput } from "../../cli/output.js";
import type { Runtime } from "../../cli/runtime.js";
import { resolveConfigPath, resolveStateDir } from "../../config/paths.js";
import type { DoctorReport } from "../../doctor/doctor.js";
import { failed } from "../../doctor/findings.js";
import {
  buildContext,
  closeContext,
  openStateBackend,
  RESULT_SCHEMA_VERSION,
  silentReporter,
  stateDirectoryJournals,
} from "../../engine/read.js";
import { ExitCode, errorMessage, RotatorError } from "../../errors.js";
import { redactedJson } from "../../util/mask.js";
import type { CommandContext } from "../shared/command-context.js";
import type { DoctorCommandOptions } from "./options.js";
import { renderDoctor } from "./render.js";

export interface DoctorResult extends DoctorReport {
  command: "doctor";
  status: "healthy" | "unhealthy";
  exitCode: number;
}

export async function runDoctorCommand(
  options: DoctorCommandOptions,
  { runtime, exit }: CommandContext,
): Promise<void> {
  const output = makeOutput(runtime, runtime.env, options.color);
  const [{ runDoctor }, { loadConfig }] = await Promise.all([
    import("../../doctor/doctor.js"),
    import("../../config/load.js"),
  ]);
  const report: DoctorReport = { healthy: true, findings: [] };
  let context: Awaited<ReturnType<typeof buildContext>> | undefined;
  let state: Awaited<ReturnType<typeof openStateBackend>> | undefined;
  try {
    let config: Parameters<typeof runDoctor>[0]["config"];
    let journals: Parameters<typeof runDoctor>[0]["journals"];
    const stateDir = resolve(runtime.cwd, resolveStateDir({ flag: options.stateDir, env: runtime.env }));
    const file = findConfig(options, runtime, report);
    if (file !== undefined) {
      try {
        const loaded = await loadConfig(file, runtime.env);
        (await import("../../fleet/units.js")).refuseFleetConfig(
          loaded,
          "doctor --config",
          `\`rotator status --config ${loaded.file}\` lists each account's problems; \`rotator doctor --dotenv FILE\` diagnoses one account's dotenv store`,
        );
        // The journals doctor consults are where the config keeps them (state:), as for every other command.
        state = await openStateBackend(loaded.config.state, { stateDir, env: runtime.env, configFile: loaded.file });
        context = await buildContext(loaded, {
          stateDir,
          state: state.view(),
          reporter: silentReporter,
          env: runtime.env,
        });
        config = { loaded, context };
      } catch (error) {
        report.findings.push(
          failed("config", `config ${file}`, {
            cause: errorMessage(error),
            fix:
              error instanceof RotatorError && error.hint !== undefined
                ? error.hint
                : "fix the config, then run doctor again",
            certainty: "certain",
          }),
        );
      }
    }
    if (file === undefined && existsSync(stateDir)) {
      // No config: the state directory's journals still say which run revoked a credential.
      journals = await stateDirectoryJournals(stateDir);
    }
    const fromEnv = options.env === true || (options.dotenv === undefined && file === undefined);
    const found = await runDoctor({
      env: runtime.env,
      fromEnv,
      envFile: options.dotenv === undefined ? undefined : resolve(runtime.cwd, options.dotenv),
      config,
      journals,
      baseUrl: options.baseUrl,
      offline: options.offline === true,
      ...(options.json ? {} : { onProgress: (line: string) => output.note(output.err.dim(`... ${line}`)) }),
    });
    report.findings.push(...found.findings);
  } finally {
    if (context !== undefined) await closeContext(context);
    await state?.close();
  }
  const healthy = report.findings.every((finding) => finding.ok);
  const result: DoctorResult = {
    command: "doctor",
    status: healthy ? "healthy" : "unhealthy",
    exitCode: healthy ? ExitCode.completed : ExitCode.badInput,
    healthy,
    findings: report.findings,
  };
  if (options.json) {
    runtime.stdout.write(`${redactedJson({ schemaVersion: RESULT_SCHEMA_VERSION, ...result }, 2)}\n`);
  } else renderDoctor(result, output);
  exit.code = result.exitCode;
}

/**
 * The config doctor checks, found as every command finds its own: --config, else $ROTATOR_CONFIG, else
 * ./rotator.yaml or ./rotator.yml when the directory has one. Asked for the environment's or a dotenv file's
 * credential (--env, --dotenv), doctor looks for no config it was not given. Two default files at once are a
 * finding, as they are an error for other commands.
 */
function findConfig(options: DoctorCommandOptions, runtime: Runtime, report: DoctorReport): string | undefined {
  if (options.config !== undefined) return resolve(runtime.cwd, options.config);
  if (options.env === true || options.dotenv !== undefined) return undefined;
  try {
    const found = resolve(runtime.cwd, resolveConfigPath({ env: runtime.env, cwd: runtime.cwd }));
    // The default name counts only where it exists; a $ROTATOR_CONFIG that does not is reported on loading.
    const named = runtime.env.ROTATOR_CONFIG !== undefined && runtime.env.ROTATOR_CONFIG !== "";
    return named || existsSync(found) ? found : undefined;
  } catch (error) {
    report.findings.push(
      failed("config", "config", {
        cause: errorMessage(error),
        fix: error instanceof RotatorError && error.hint !== undefined ? error.hint : "pass --config PATH",
        certainty: "certain",
      }),
    );
    return undefined;
  }
}
