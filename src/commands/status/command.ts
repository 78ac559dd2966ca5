/** `rotator status`: the current credential, its age, locks and recent runs. */
import type { Command } from "commander";
import { addCommonOptions, type CommandContext, type CommonOptions, examples } from "../shared/command-context.js";

export function registerStatusCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("status").description("current key (masked), its age, locks and recent runs"))
    .addHelpText(
      "after",
      examples([
        ["rotator status", "the current key and the last runs"],
        ["rotator status --json | jq .due", "whether the key is due for rotation"],
      ]),
    )
    .action(async (options: CommonOptions) => {
      const [{ runConfigCommand }, { status }, { renderStatus }] = await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("./render.js"),
      ]);
      await runConfigCommand("status", options, context, (engine) => status(engine), renderStatus);
    });
}
