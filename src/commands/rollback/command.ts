/** `rotator rollback`: undo this config's unfinished run. */
import type { Command } from "commander";
import { addCommonOptions, type CommandContext, type CommonOptions, examples } from "../shared/command-context.js";

export function registerRollbackCommand(program: Command, context: CommandContext): void {
  addCommonOptions(
    program
      .command("rollback")
      .description(
        "undo the unfinished run of this credential (e.g. awaiting consumers): restore every store, delete the new credential",
      ),
  )
    .addHelpText(
      "after",
      examples([
        ["rotator rollback", "undo a run that is awaiting consumers"],
        ["rotator rollback --json", "the same, with the result as JSON"],
        ["rotator rollback --config fleet.yaml", "a fleet: every account with an unfinished run"],
      ]),
    )
    .action(async (options: CommonOptions) => {
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
        (engine) => rollback(engine),
        renderRun,
        // Only the accounts with an unfinished run have anything to undo.
        fleetRunCommand(
          "rollback",
          (engine) => rollback(engine),
          () => ({ onlyUnfinished: true }),
        ),
      );
    });
}
