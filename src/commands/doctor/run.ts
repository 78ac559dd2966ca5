/**
 * Running `rotator doctor`: gather the sources the options name, load the config when there is one (a
 * config that cannot be loaded is itself a finding), run the checks, print, and exit 0 (healthy) or 2.
 */
import { resolve } from "node:path";
import { makeOutput } from "../../cli/output.js";
import { resolveStateDir } from "../../config/paths.js";
import type { DoctorReport } from "../../doctor/doctor.js";
import { failed } from "../../doctor/findings.js";
import { silentReporter } from "../../engine/reporter.js";
import { RESULT_SCHEMA_VERSION } from "../../engine/result.js";
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
  const [{ runDoctor }, { loadConfig }, { buildContext, closeContext }, { openStateBackend }] = await Promise.all([
    import("../../doctor/doctor.js"),
    import("../../config/load.js"),
    import("../../engine/context.js"),
    import("../../engine/state/index.js"),
  ]);
  const report: DoctorReport = { healthy: true, findings: [] };
  let context: Awaited<ReturnType<typeof buildContext>> | undefined;
  let state: Awaited<ReturnType<typeof openStateBackend>> | undefined;
  try {
    let config: Parameters<typeof runDoctor>[0]["config"];
    if (options.config !== undefined) {
      const file = resolve(runtime.cwd, options.config);
      try {
        const loaded = await loadConfig(file, runtime.env);
        (await import("../../fleet/units.js")).refuseFleetConfig(
          loaded,
          "doctor --config",
          `\`rotator status --config ${loaded.file}\` lists each account's problems; \`rotator doctor --dotenv FILE\` diagnoses one account's dotenv store`,
        );
        const stateDir = resolve(runtime.cwd, resolveStateDir({ flag: options.stateDir, env: runtime.env }));
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
    const fromEnv = options.env === true || (options.dotenv === undefined && options.config === undefined);
    const found = await runDoctor({
      env: runtime.env,
      fromEnv,
      envFile: options.dotenv === undefined ? undefined : resolve(runtime.cwd, options.dotenv),
      config,
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
