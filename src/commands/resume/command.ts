/** `rotator resume`: finish (or roll back) this config's interrupted run. */
import type { Command } from "commander";
import {
  addCommonOptions,
  type CommandContext,
  type CommonOptions,
  collect,
  examples,
} from "../shared/command-context.js";

interface ResumeCommandOptions extends CommonOptions {
  dropConsumer?: string[];
  allowSharedRevoke?: boolean;
}

export function registerResumeCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("resume").description("finish or roll back the interrupted run of this credential"))
    .option(
      "--drop-consumer <name>",
      "stop waiting for a consumer the run started with (repeatable; journaled)",
      collect,
    )
    .option("--allow-shared-revoke", "revoke even though stores of other configs are known to hold the old credential")
    .addHelpText(
      "after",
      `
The run goes on with what it started with (its stores, consumers, credential
settings and admin source, from its journal), whatever config resume reads:
that config only finds the run. Every way it differs is said (a consumer added
or removed, a store renamed, moved or reordered, other settings). A consumer
the run started with is waited for even if the config no longer lists it; one
the config adds is waited for too. --drop-consumer NAME stops waiting for one
of the run's consumers, on your word: it is journaled and named in the result.
Just before the revoke, stores of other configs (known from this state's
journals, or sharing a store with this one) that hold the old credential stop
the run (exit 6, nothing revoked); --allow-shared-revoke goes ahead once you
have checked them.
${examples([
  ["rotator resume", "carry on the run `rotator status` calls interrupted"],
  ["rotator resume --config /etc/rotator/prod.yaml", "the run of another config"],
  ["rotator resume --drop-consumer old-worker", "a consumer that is gone for good"],
  ["rotator resume --config fleet.yaml", "a fleet: every account left unfinished"],
])}`,
    )
    .action(async (options: ResumeCommandOptions) => {
      const [{ runConfigCommand }, { resume }, { renderRun }, { fleetRunCommand }] = await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("../shared/render-run.js"),
        import("../shared/fleet-command.js"),
      ]);
      const resumeOptions = {
        dropConsumers: options.dropConsumer ?? [],
        allowSharedRevoke: options.allowSharedRevoke ?? false,
      };
      await runConfigCommand(
        "resume",
        options,
        context,
        (engine) => resume(engine, resumeOptions),
        renderRun,
        fleetRunCommand("resume", (engine) => resume(engine, resumeOptions)),
      );
    });
}
