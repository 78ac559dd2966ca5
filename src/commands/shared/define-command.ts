/**
 * A command as one definition: its name, options, help with examples, what it does when run, and the facts
 * the rest of the CLI acts on instead of its name (how it runs over a fleet, which events it notifies,
 * whether it changes stores and so asks first and takes --yes). Each folder under src/commands/ defines
 * one in its command.ts; commands/registry.ts lists them for cli/program.ts. Kept free of heavy imports:
 * every definition loads when `rotator --help` does, and `run` loads what the command needs.
 */
import type { Command, OptionValues } from "commander";
import type { FleetTraits } from "../../fleet/run.js";
import type { NotifyEvent } from "../../notify/events.js";
import { addCommonOptions, type CommandContext, examples } from "./command-context.js";

/** What the CLI acts on, the same for every command that has it. */
export interface CommandTraits {
  readonly name: string;
  /** How it runs over a fleet config (`accounts:`); `undefined`: it refuses one (exit 2). */
  readonly fleet: Omit<FleetTraits, "name"> | undefined;
  /** The events its results send to the config's notify: targets. */
  readonly notifies: readonly NotifyEvent[];
  /**
   * It changes stores: it takes --yes, and on a terminal (stdin and stderr) without --yes it asks before
   * the first change; without a terminal it never asks. A "no" is a cancellation (exit 8), not an error.
   */
  readonly changesStores: boolean;
}

/** What a command's `run` gets: its parsed options and arguments, where it runs, and its own definition. */
export interface Invocation<O> {
  options: O;
  /** Its arguments (`rotator init dotenv-file vault-kv2`: the store types), as given. */
  args: string[];
  context: CommandContext;
  definition: CommandDefinition;
  /** The commander command (completion reads the whole program from it). */
  command: Command;
}

export interface CommandSpec<O> extends CommandTraits {
  readonly description: string;
  /**
   * The options every config-reading command shares (command-context.ts), with --sandbox too, or none
   * (the command declares its own in `configure`).
   */
  readonly commonOptions: "config" | "config-and-sandbox" | "none";
  /** Its own options, arguments and subcommands. */
  readonly configure?: (command: Command, context: CommandContext) => void;
  /** Prose for its `--help`, before the examples (starting with a blank line). */
  readonly help?: string;
  /** `[command line, what it does]`, shown under "Examples:" in its `--help`; at least one. */
  readonly examples: ReadonlyArray<readonly [string, string]>;
  /** What it does; a command of subcommands only (emulator) has none. */
  readonly run?: (invocation: Invocation<O>) => Promise<void> | void;
}

/** A command as the registry holds it: its traits and examples, and how to add it to the program. */
export interface CommandDefinition extends CommandTraits {
  readonly description: string;
  readonly examples: ReadonlyArray<readonly [string, string]>;
  register(program: Command, context: CommandContext): Command;
}

export function defineCommand<O extends OptionValues>(spec: CommandSpec<O>): CommandDefinition {
  const definition: CommandDefinition = {
    name: spec.name,
    description: spec.description,
    fleet: spec.fleet,
    notifies: spec.notifies,
    changesStores: spec.changesStores,
    examples: spec.examples,
    register(program, context) {
      const command = program.command(spec.name).description(spec.description);
      if (spec.commonOptions !== "none") {
        addCommonOptions(command, { sandbox: spec.commonOptions === "config-and-sandbox" });
      }
      spec.configure?.(command, context);
      if (spec.changesStores) command.option("-y, --yes", "do not ask for confirmation on a terminal");
      const alike = spec.changesStores ? changesStoresHelp(spec.name) : "";
      command.addHelpText("after", `${spec.help ?? ""}${alike}${examples(spec.examples)}`);
      const run = spec.run;
      if (run !== undefined) {
        command.action(() => run({ options: command.opts<O>(), args: command.args, context, definition, command }));
      }
      return command;
    },
  };
  return definition;
}

/** The fleet traits of a command that takes a fleet, for runFleet. */
export function fleetTraitsOf(definition: CommandTraits): FleetTraits {
  if (definition.fleet === undefined) throw new Error(`rotator ${definition.name} takes no fleet config`);
  return { name: definition.name, ...definition.fleet };
}

/** The one paragraph every command that changes stores has in its `--help`: what it shares with the others. */
function changesStoresHelp(name: string): string {
  return `
On a terminal, ${name} says what it is about to change and asks first
(--yes skips the question; without a terminal it never asks). Anything but
y cancels it: nothing is changed, exit 8. The config's notify: targets hear
how it ended, as for every command that changes stores.
`;
}
