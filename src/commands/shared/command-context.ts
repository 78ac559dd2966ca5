/**
 * What every command definition gets, and the options every config-reading command shares. Kept free of
 * heavy imports: command definitions load when `rotator --help` does.
 */
import { type Command, Option } from "commander";
import type { Runtime } from "../../cli/runtime.js";
import type { Sandbox } from "../../sandbox/index.js";
import { SANDBOX_CREDENTIAL_TYPES, type SandboxCredentialType } from "../../sandbox/options.js";

export interface CommandContext {
  runtime: Runtime;
  /** The exit code of the command that ran; set by its action. */
  exit: { code: number };
}

export interface CommonOptions {
  config?: string;
  stateDir?: string;
  json?: boolean;
  /** false with --no-color. */
  color?: boolean;
  sandbox?: boolean;
  /** With --sandbox: what it rotates (commander checked it is one of SANDBOX_CREDENTIAL_TYPES). */
  credential?: SandboxCredentialType;
  /** With --sandbox: the sandbox, started by the command before it loaded the engine (startSandboxFirst). */
  startedSandbox?: Promise<Sandbox>;
}

/**
 * With --sandbox, start the sandbox before the command loads the engine and what it renders with. Its
 * apps are processes of their own, so they load their modules while this one loads its; started after,
 * they would load theirs while this process waited (start-up is most of a sandbox run's wall time).
 * A failure is reported by runConfigCommand, which awaits it. Undefined, with exit 2 and the reason on
 * stderr, for sandbox options given without --sandbox.
 */
export function startSandboxFirst<T extends CommonOptions>(options: T, context: CommandContext): T | undefined {
  if (options.credential !== undefined && !options.sandbox) {
    context.runtime.stderr.write(
      `rotator: --credential goes with --sandbox (${SANDBOX_CREDENTIAL_TYPES.join(" or ")}); with a config, what is rotated is its credential.type\n`,
    );
    context.exit.code = 2;
    return undefined;
  }
  if (!options.sandbox) return options;
  const startedSandbox = import("../../sandbox/index.js").then(({ startSandbox }) =>
    startSandbox({ stateDir: options.stateDir, credential: options.credential }),
  );
  startedSandbox.catch(() => undefined);
  return { ...options, startedSandbox };
}

export function addCommonOptions(command: Command, options: { sandbox?: boolean } = {}): Command {
  command
    .option("-c, --config <path>", "config file (default: $ROTATOR_CONFIG, else ./rotator.yaml or .yml)")
    .option("--state-dir <dir>", "journals and locks (default: $ROTATOR_STATE_DIR, else $XDG_STATE_HOME/rotator)")
    .option("--json", "print one JSON result object on stdout")
    .option("--no-color", "no color or emphasis");
  if (options.sandbox) {
    command.option("--sandbox", "use a built-in Twilio emulator, temporary dotenv files and local apps");
    command.addOption(
      new Option("--credential <type>", "with --sandbox: what it rotates (default api-key)").choices(
        SANDBOX_CREDENTIAL_TYPES,
      ),
    );
  }
  return command;
}

/** For an option that may be given several times (`--drop-consumer a --drop-consumer b`). */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `\nExamples:\n  rotator …   what it does` for a command's help, within 80 columns: a description that
 * does not fit beside its command goes on the line under it.
 */
export function examples(lines: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...lines.map(([command]) => command.length));
  const formatted = lines.map(([command, what]) => {
    const beside = `  ${command.padEnd(width)}  ${what}`;
    return beside.length <= 80 ? beside : `  ${command}\n      ${what}`;
  });
  return `\nExamples:\n${formatted.join("\n")}`;
}
