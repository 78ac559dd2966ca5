/** `rotator resume`: finish (or roll back) this config's interrupted run. */
import type { Command } from "commander";
import { addCommonOptions, type CommandContext, type CommonOptions, examples } from "../shared/command-context.js";

export function registerResumeCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("resume").description("finish or roll back the interrupted run of this credential"))
    .addHelpText(
      "after",
      examples([
        ["rotator resume", "carry on the run `rotator status` calls interrupted"],
        ["rotator resume --config /etc/rotator/prod.yaml", "the run of another config"],
        ["rotator resume --config fleet.yaml", "a fleet: every account left unfinished"],
      ]),
    )
    .action(async (options: CommonOptions) => {
      const [{ runConfigCommand }, { resume }, { renderRun }, { fleetRunCommand }] = await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("../shared/render-run.js"),
        import("../shared/fleet-command.js"),
      ]);
      await runConfigCommand(
        "resume",
        options,
        context,
        (engine) => resume(engine),
        renderRun,
        fleetRunCommand("resume", (engine) => resume(engine)),
      );
    });
}
