/**
 * The `rotator` command line as a program that can be run without a process: `runProgram(argv, runtime)`
 * parses, runs one command and returns its exit code, writing only to the runtime's streams. `main.ts` is
 * the thin entry that hands it the real process. Tests run commands in-process through the same function.
 *
 * Start-up cost matters (`rotator --help` should feel instant, and a cron job pays it every run): this
 * module and the command definitions (commands/registry.ts) import only commander; each command's `run`
 * loads what it needs (config loader, engine, providers, SDKs) when it runs.
 */
import { Command, CommanderError } from "commander";
import { COMMANDS } from "../commands/registry.js";
import { versionLine } from "../commands/version/command.js";
import { ExitCode } from "../errors.js";
import { packageVersion } from "../util/package-root.js";
import { nodeOptionRefusal } from "./node-options.js";
import type { Runtime } from "./runtime.js";

export const HELP_WIDTH = 80;

const OVERVIEW = `
Common options (every command that reads a config):
  -c, --config <path>  the config file (see "Config file" below)
  --state-dir <dir>    where journals and locks live (with state: backend:
                       postgres in the config, a database several hosts
                       share holds them instead)
  --json               print one JSON result object on stdout
  --no-color           no color or emphasis (also: NO_COLOR=1, or output
                       that is not a terminal)

Config file: --config PATH, else $ROTATOR_CONFIG, else ./rotator.yaml or
./rotator.yml in the current directory. \`rotator init\` writes a commented
one for the stores you name; \`rotator validate\` checks it offline;
config/rotator.schema.json is the JSON Schema for editors.

Environment:
  ROTATOR_CONFIG     the config file, when --config is not given
  ROTATOR_STATE_DIR  the state directory, when --state-dir is not given
                     (default: $XDG_STATE_HOME/rotator, else
                     ~/.local/state/rotator)
  NO_COLOR           set to anything: no color
  The admin credential and each store's credentials come from the
  variables the config names ({ env: NAME }); AWS and Azure SDKs read their
  usual variables (AWS_REGION, AWS_PROFILE, AZURE_CLIENT_ID, ...).

Exit codes:
  0    completed (or nothing to do)
  1    internal error (a bug: please report it with the journal)
  2    bad input or preflight failure; nothing was changed
  3    rolled back: every store holds what it held before, the new
       credential is deleted
  4    awaiting consumers: nothing revoked; \`rotator resume\` finishes
       once they converge
  5    locked: another run holds one of this config's stores
  6    an unfinished run (or another config) shares one of these stores
  7    needs an operator: a rollback or revoke could not complete; the
       journal says what \`rotator resume\` will do
  8    cancelled: you answered no at the confirmation prompt; nothing
       was changed
  130  interrupted (Ctrl-C, SIGTERM): the run stopped between steps; the
       result says what to run next

Examples:
  rotator rotate --sandbox         a whole rotation on a built-in sandbox
  rotator plan                     what rotate would do, changing nothing
  rotator rotate --if-due --yes    the scheduled 90-day job
  rotator status --json            the current key, its age, recent runs
  rotator doctor                   diagnose the credential in the environment
  rotator watch --interval 30s     alert within a minute when 401s appear
  rotator init dotenv-file         a commented config for a dotenv store`;

export function buildProgram(runtime: Runtime, exit: { code: number }): Command {
  const program = new Command("rotator")
    .description(
      "Rotate Twilio credentials across every secret store, all-or-nothing,\nand revoke the old one only when nothing uses it.",
    )
    .version(versionLine(packageVersion()), "-v, --version", "print rotator's version")
    .helpOption("-h, --help", "show help")
    .addHelpText("after", OVERVIEW)
    .showHelpAfterError("(run `rotator --help` for the commands and options)")
    .configureHelp({ helpWidth: HELP_WIDTH, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => runtime.stdout.write(text),
      writeErr: (text) => runtime.stderr.write(text),
    })
    // Inherited by the subcommands added below: commander reports usage errors by throwing.
    .exitOverride();
  const context = { runtime, exit };
  for (const command of COMMANDS) command.register(program, context);
  return program;
}

/** Parse `argv` (without node and the script), run the command, and return its exit code. */
export async function runProgram(argv: readonly string[], runtime: Runtime): Promise<number> {
  const refused = nodeOptionRefusal(argv);
  if (refused !== undefined) {
    runtime.stderr.write(`${refused}\n`);
    return ExitCode.badInput;
  }
  const exit = { code: ExitCode.completed as number };
  const program = buildProgram(runtime, exit);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end "with an error" of code 0; usage errors are bad input (2).
      return error.exitCode === 0 ? ExitCode.completed : ExitCode.badInput;
    }
    throw error;
  }
  return exit.code;
}
