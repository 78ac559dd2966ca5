/**
 * What shell completion offers, read from the program's own command definitions (so a new command or option
 * completes without anyone editing a script): each command's path (`emulator twilio`), subcommands, options and
 * what their values complete to, and its positional arguments.
 */
import type { Command } from "commander";

/** What a word completes to: file names, directory names, or a fixed list (empty: a value, nothing to offer). */
export type Values = { files: true } | { directories: true } | { words: readonly string[] };

export interface OptionSpec {
  /** `-c`, `--config`. */
  flags: string[];
  description: string;
  /** Undefined for a switch; what its value completes to otherwise. */
  value: Values | undefined;
}

export interface CommandSpec {
  /** Words after `rotator`: "" for rotator itself, "emulator twilio". */
  path: string;
  description: string;
  subcommands: Array<{ name: string; description: string }>;
  options: OptionSpec[];
  /** What its positional arguments complete to, if it takes any. */
  positional: Values | undefined;
}

/** Options whose value is a file or a directory (by long flag); every other value is free text or its choices. */
const FILE_OPTIONS = new Set(["--config", "--output", "--faults", "--env-file"]);
const DIRECTORY_OPTIONS = new Set(["--state-dir", "--cert-dir"]);
/** Positional arguments that are files (by command path). */
const FILE_ARGUMENTS = new Set(["validate"]);

export function completionSpec(program: Command): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const visit = (command: Command, path: string) => {
    const options: OptionSpec[] = command.options.map((option) => ({
      flags: [option.short, option.long].filter((flag): flag is string => flag !== undefined),
      description: option.description,
      value: !(option.required || option.optional)
        ? undefined
        : option.long !== undefined && FILE_OPTIONS.has(option.long)
          ? { files: true }
          : option.long !== undefined && DIRECTORY_OPTIONS.has(option.long)
            ? { directories: true }
            : { words: option.argChoices ?? [] },
    }));
    options.push({ flags: ["-h", "--help"], description: "show help", value: undefined });
    const choices = command.registeredArguments.flatMap((argument) => argument.argChoices ?? []);
    specs.push({
      path,
      description: command.description(),
      subcommands: command.commands.map((sub) => ({ name: sub.name(), description: sub.description() })),
      options,
      positional: FILE_ARGUMENTS.has(path) ? { files: true } : choices.length > 0 ? { words: choices } : undefined,
    });
    for (const sub of command.commands) visit(sub, path === "" ? sub.name() : `${path} ${sub.name()}`);
  };
  visit(program, "");
  return specs;
}
