/** `rotator rollback`: undo this config's unfinished run. */
import { RUN_OUTCOME_EVENTS } from "../../notify/events.js";
import { type CommonOptions, collect } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface RollbackCommandOptions extends CommonOptions {
  dropConsumer?: string[];
  yes?: boolean;
}

export const rollbackCommand = defineCommand<RollbackCommandOptions>({
  name: "rollback",
  description:
    "undo the unfinished run of this credential (e.g. awaiting consumers): restore every store, delete the new credential",
  commonOptions: "config",
  // Only the accounts with an unfinished run have anything to undo.
  fleet: { accounts: "unfinished", startsRuns: false, doneStatus: "completed" },
  notifies: RUN_OUTCOME_EVENTS,
  changesStores: true,
  configure: (command) =>
    command.option(
      "--drop-consumer <name>",
      "do not wait for this consumer of the run to be back on the old credential (repeatable; journaled)",
      collect,
    ),
  help: `
The run is undone as it started (its stores and consumers, from its journal),
whatever config rollback reads; every way that config differs is said. Before
the new credential is deleted, every consumer of the run (and any the config
adds) must be back on the old one; --drop-consumer NAME leaves one out, on
your word (journaled, and named in the result).
`,
  examples: [
    ["rotator rollback", "undo a run that is awaiting consumers"],
    ["rotator rollback --yes --json", "the same from a script, with the result as JSON"],
    ["rotator rollback --config fleet.yaml", "a fleet: every account with an unfinished run"],
  ],
  async run(invocation) {
    const [{ runReentryCommand }, { rollback }] = await Promise.all([
      import("../shared/reentry-command.js"),
      import("./run.js"),
    ]);
    const dropConsumers = invocation.options.dropConsumer ?? [];
    await runReentryCommand(
      invocation,
      (engine, confirm) => rollback(engine, { dropConsumers, ...(confirm === undefined ? {} : { confirm }) }),
      "rollback will undo the unfinished runs of",
    );
  },
});
