/**
 * The `rotator` command line. Progress goes to stderr; `--json` prints one result object on stdout; the
 * exit code says how it ended (see EXIT CODES in --help and the README).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { loadConfig } from "../config/load.js";
import { resolveConfigPath, resolveStateDir } from "../config/paths.js";
import { runTwilioEmulatorCommand } from "../emulator/cli.js";
import { buildContext, closeContext, type EngineContext } from "../engine/context.js";
import { plan } from "../engine/plan.js";
import { streamReporter } from "../engine/reporter.js";
import type { CommandResult } from "../engine/result.js";
import { resume } from "../engine/resume.js";
import { rollback } from "../engine/rollback.js";
import { rotate } from "../engine/rotate.js";
import { status } from "../engine/status.js";
import { ExitCode, RotatorError } from "../errors.js";
import { type Sandbox, startSandbox } from "../sandbox.js";
import { redact } from "../util/mask.js";
import { packageVersion } from "../util/package-root.js";
import { printHuman } from "./render.js";

const version = packageVersion();

// A closed stdout or stderr (`rotator rotate | head -n 3`, a dead log shipper) must never end a run
// half-way: an EPIPE on a write is an "error" event, which would otherwise kill the process with an orphan
// key and a stale lock. Progress to a closed stream is dropped; the run goes on to its end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
  });
}

// rotator pins an AWS SDK release that supports Node 20; the SDK's notice about future releases needing
// Node 22 is for whoever upgrades that pin, not for an operator reading a rotation's progress.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

interface CommonOptions {
  config?: string;
  stateDir?: string;
  json?: boolean;
  sandbox?: boolean;
}

const EXIT_CODES = `
Exit codes:
  0  completed (or nothing to do)
  1  internal error (a bug: please report it with the journal)
  2  bad input or preflight failure; nothing was changed
  3  rolled back: every store holds what it held before, the new key is deleted
  4  awaiting consumers: nothing revoked; \`rotator resume\` finishes once they converge
  5  locked: another run holds one of this config's stores (or a stale lock needs \`rotator resume\`)
  6  an unfinished run uses one of these stores: run \`rotator resume\` (with the config it names)
  7  needs an operator: a rollback or revoke could not complete; the journal says what \`resume\` will do`;

function withCommon(command: Command, options: { sandbox?: boolean } = {}): Command {
  command
    .option(
      "-c, --config <path>",
      "config file (YAML or JSON; default: $ROTATOR_CONFIG, else ./rotator.yaml or ./rotator.yml)",
    )
    .option(
      "--state-dir <dir>",
      "where journals and locks live (default: $ROTATOR_STATE_DIR, else $XDG_STATE_HOME/rotator)",
    )
    .option("--json", "print one JSON result object on stdout");
  if (options.sandbox) {
    command.option("--sandbox", "run against a built-in Twilio emulator and two temporary dotenv files");
  }
  return command;
}

async function withContext(
  options: CommonOptions,
  action: (context: EngineContext, sandbox: Sandbox | undefined) => Promise<CommandResult>,
): Promise<never> {
  const reporter = streamReporter(process.stderr);
  let sandbox: Sandbox | undefined;
  let context: EngineContext | undefined;
  let result: CommandResult;
  try {
    if (options.sandbox) {
      sandbox = await startSandbox({ stateDir: options.stateDir });
      reporter.step(`sandbox: Twilio emulator at ${sandbox.emulator.baseUrl}, stores in ${sandbox.dir}`);
    }
    const configPath =
      sandbox?.configPath ?? resolveConfigPath({ flag: options.config, env: process.env, cwd: process.cwd() });
    const loaded = await loadConfig(configPath, sandbox?.env ?? process.env);
    context = await buildContext(loaded, {
      stateDir: sandbox?.stateDir ?? resolveStateDir({ flag: options.stateDir, env: process.env }),
      reporter,
      env: sandbox?.env ?? process.env,
    });
    result = await action(context, sandbox);
  } catch (error) {
    result = errorResult(error);
  } finally {
    if (context) await closeContext(context);
  }
  try {
    if (sandbox && result.exitCode !== ExitCode.badInput) {
      reporter.step("sandbox: checking the result independently of the engine");
      for (const line of await sandbox.summary()) reporter.info(line);
    }
  } finally {
    if (sandbox) {
      await sandbox.close();
      const kept = options.stateDir === undefined ? " (pass --state-dir DIR to keep its journal)" : "";
      reporter.step(`sandbox: removed ${sandbox.dir}${kept}`);
      // The journal went with the sandbox's directory unless --state-dir put it elsewhere.
      if (options.stateDir === undefined) delete result.journal;
    }
  }
  if (options.json) process.stdout.write(`${redact(JSON.stringify(result, null, 2))}\n`);
  else printHuman(result);
  process.exit(result.exitCode);
}

function errorResult(error: unknown): CommandResult {
  const known = error instanceof RotatorError;
  return {
    command: "",
    status: "failed",
    exitCode: known ? error.exitCode : ExitCode.internal,
    runId: null,
    oldKey: null,
    newKey: null,
    stores: [],
    warnings: [],
    error: error instanceof Error ? error.message : String(error),
    ...(known && error.hint !== undefined ? { hint: error.hint } : {}),
  };
}

export function buildProgram(): Command {
  const program = new Command("rotator")
    .description(
      "Rotate Twilio API keys across every secret store, all-or-nothing, and revoke the old key only when nothing uses it.",
    )
    .version(version)
    .addHelpText("after", EXIT_CODES)
    .showHelpAfterError()
    // Set before the subcommands are added, which inherit it: commander's usage errors are bad input (2).
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : ExitCode.badInput);
    });

  withCommon(
    program
      .command("plan")
      .description("dry run: check everything and print the steps rotate would take; changes nothing"),
    {
      sandbox: true,
    },
  )
    .option("--emergency", "plan an emergency rotation (the current key may already be dead)")
    .option("--allow-shared-revoke", "plan as if rotate were given --allow-shared-revoke")
    .action((options: CommonOptions & { emergency?: boolean; allowSharedRevoke?: boolean }) =>
      withContext(options, (context) =>
        plan(context, { emergency: options.emergency ?? false, allowSharedRevoke: options.allowSharedRevoke ?? false }),
      ),
    );

  withCommon(
    program.command("rotate").description("rotate the credential now: create, write every store, verify, revoke"),
    {
      sandbox: true,
    },
  )
    .option("--if-due", "only rotate when the current key is older than credential.maxAgeDays (for schedules)")
    .option("--emergency", "rotate even if the current key is already dead (after a security reset)")
    .option(
      "--allow-shared-revoke",
      "revoke the old key even though stores of other configs are known to hold it (you checked them)",
    )
    .action((options: CommonOptions & { ifDue?: boolean; emergency?: boolean; allowSharedRevoke?: boolean }) =>
      withContext(options, (context) =>
        rotate(context, {
          ifDue: options.ifDue ?? false,
          emergency: options.emergency ?? false,
          allowSharedRevoke: options.allowSharedRevoke ?? false,
          version,
        }),
      ),
    );

  withCommon(
    program.command("resume").description("finish or roll back the interrupted run of this credential"),
  ).action((options: CommonOptions) => withContext(options, (context) => resume(context)));

  withCommon(
    program
      .command("rollback")
      .description(
        "undo the unfinished run of this credential (e.g. awaiting consumers): restore every store, delete the new key",
      ),
  ).action((options: CommonOptions) => withContext(options, (context) => rollback(context)));

  withCommon(program.command("status").description("current key (masked), its age, and recent runs")).action(
    (options: CommonOptions) => withContext(options, (context) => status(context)),
  );

  const emulator = program.command("emulator").description("local emulators for trying rotator and for tests");
  emulator
    .command("twilio")
    .description("run the Twilio emulator; prints one JSON line {baseUrl, accountSid, authToken} once listening")
    .addOption(new Option("--port <n>", "port (0 = any free port)").default(0).argParser(parsePort))
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--account-sid <sid>", "account SID to create (default: random)")
    .option("--auth-token <token>", "its auth token (default: random)")
    .action(async (options: { port: number; host: string; accountSid?: string; authToken?: string }) => {
      try {
        await runTwilioEmulatorCommand({
          port: options.port,
          host: options.host,
          ...(options.accountSid === undefined ? {} : { accountSid: options.accountSid }),
          ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
        });
      } catch (error) {
        process.stderr.write(`rotator: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(ExitCode.badInput);
      }
    });
  return program;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

await buildProgram().parseAsync(process.argv);
