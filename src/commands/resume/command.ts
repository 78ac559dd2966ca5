/** `rotator resume`: finish (or roll back) this config's interrupted run. */
import { RUN_OUTCOME_EVENTS } from "../../notify/events.js";
import { type CommonOptions, collect } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface ResumeCommandOptions extends CommonOptions {
  dropConsumer?: string[];
  allowSharedRevoke?: boolean;
  yes?: boolean;
}

export const resumeCommand = defineCommand<ResumeCommandOptions>({
  name: "resume",
  description: "finish or roll back the interrupted run of this credential",
  commonOptions: "config",
  fleet: { accounts: "listed-and-unfinished", startsRuns: false, doneStatus: "completed" },
  notifies: RUN_OUTCOME_EVENTS,
  changesStores: true,
  configure: (command) =>
    command
      .option(
        "--drop-consumer <name>",
        "stop waiting for a consumer the run started with (repeatable; journaled)",
        collect,
      )
      .option(
        "--allow-shared-revoke",
        "revoke even though stores of other configs are known to hold the old credential",
      ),
  help: `
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
`,
  examples: [
    ["rotator resume", "carry on the run `rotator status` calls interrupted"],
    ["rotator resume --config /etc/rotator/prod.yaml", "the run of another config"],
    ["rotator resume --drop-consumer old-worker", "a consumer that is gone for good"],
    ["rotator resume --config fleet.yaml", "a fleet: every account left unfinished"],
  ],
  async run(invocation) {
    const [{ runReentryCommand }, { resume }] = await Promise.all([
      import("../shared/reentry-command.js"),
      import("./run.js"),
    ]);
    const { dropConsumer, allowSharedRevoke } = invocation.options;
    await runReentryCommand(
      invocation,
      (engine, confirm) =>
        resume(engine, {
          dropConsumers: dropConsumer ?? [],
          allowSharedRevoke: allowSharedRevoke ?? false,
          ...(confirm === undefined ? {} : { confirm }),
        }),
      "resume will finish the runs left unfinished of",
    );
  },
});
