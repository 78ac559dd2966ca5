/** `rotator rollback`: undo this config's unfinished run. */
import type { Command } from "commander";
import {
  addCommonOptions,
  type CommandContext,
  type CommonOptions,
  collect,
  examples,
} from "../shared/command-context.js";

interface RollbackCommandOptions extends CommonOptions {
  dropConsumer?: string[];
}

export function registerRollbackCommand(program: Command, context: CommandContext): void {
  addCommonOptions(
    program
      .command("rollback")
      .description(
        "undo the unfinished run of this credential (e.g. awaiting consumers): restore every store, delete the new credential",
      ),
  )
    .option(
      "--drop-consumer <name>",
      "do not wait for this consumer of the run to be back on the old credential (repeatable; journaled)",
      collect,
    )
    .addHelpText(
      "after",
      `
The run is undone as it started (its stores and consumers, from its journal),
whatever config rollback reads; every way that config differs is said. Before
the new credential is deleted, every consumer of the run (and any the config
adds) must be back on the old one; --drop-consumer NAME leaves one out, on
your word (journaled, and named in the result).
${examples([
  ["rotator rollback", "undo a run that is awaiting consumers"],
  ["rotator rollback --json", "the same, with the result as JSON"],
  ["rotator rollback --config fleet.yaml", "a fleet: every account with an unfinished run"],
])}`,
    )
    .action(async (options: RollbackCommandOptions) => {
      const [{ runConfigCommand }, { rollback }, { renderRun }, { fleetRunCommand }] = await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("../shared/render-run.js"),
        import("../shared/fleet-command.js"),
      ]);
      await runConfigCommand(
        "rollback",
        options,
        context,
        (engine) => rollback(engine, { dropConsumers: options.dropConsumer ?? [] }),
        renderRun,
        // Only the accounts with an unfinished run have anything to undo.
        fleetRunCommand(
          "rollback",
          (engine) => rollback(engine, { dropConsumers: options.dropConsumer ?? [] }),
          () => ({ onlyUnfinished: true }),
        ),
      );
    });
}
