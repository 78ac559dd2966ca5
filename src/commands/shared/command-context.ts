/**
 * What every command definition gets, and the options every config-reading command shares. Kept free of
 * heavy imports: command definitions load when `rotator --help` does.
 */
import type { Command } from "commander";
import type { Runtime } from "../../cli/runtime.js";

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
}

export function addCommonOptions(command: Command, options: { sandbox?: boolean } = {}): Command {
  command
    .option("-c, --config <path>", "config file (default: $ROTATOR_CONFIG, else ./rotator.yaml or .yml)")
    .option("--state-dir <dir>", "journals and locks (default: $ROTATOR_STATE_DIR, else $XDG_STATE_HOME/rotator)")
    .option("--json", "print one JSON result object on stdout")
    .option("--no-color", "no color or emphasis");
  if (options.sandbox) {
    command.option("--sandbox", "use a built-in Twilio emulator, temporary dotenv files and local apps");
  }
  return command;
}

/**
 * `\nExamples:\n  rotator …   what it does` for a command's help, within 80 columns: a description that
 * does not fit beside its command goes on the line under it.
 */
export function examples(lines: Array<[string, string]>): string {
  const width = Math.max(...lines.map(([command]) => command.length));
  const formatted = lines.map(([command, what]) => {
    const beside = `  ${command.padEnd(width)}  ${what}`;
    return beside.length <= 80 ? beside : `  ${command}\n      ${what}`;
  });
  return `\nExamples:\n${formatted.join("\n")}`;
}
