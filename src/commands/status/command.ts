/** `rotator status`: the current credential, its age, locks and recent runs. */
import { InvalidArgumentError, Option } from "commander";
import type { CommonOptions } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface StatusOptions extends CommonOptions {
  check?: boolean;
  graceDays: number;
}

export const statusCommand = defineCommand<StatusOptions>({
  name: "status",
  description: "current key (masked), its age, locks and recent runs",
  commonOptions: "config",
  // It only reads: shared stores are fine.
  fleet: { accounts: "listed", startsRuns: false, doneStatus: "completed" },
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .option("--check", "exit with a code for monitoring (see below)")
      .addOption(
        new Option("--grace-days <n>", "with --check: days past due before it is overdue").default(1).argParser(days),
      ),
  help: `
With --check, the exit code says (the first that holds, in this order):
  12  a run of this config is unfinished: \`rotator resume\`
  13  a problem rotate would stop on (drift, a dead key, a store)
  11  overdue: due for --grace-days or more (the schedule is not running)
  10  due: older than credential.maxAgeDays
  0   fine
`,
  examples: [
    ["rotator status", "the current key and the last runs"],
    ["rotator status --json | jq .due", "whether the key is due for rotation"],
    ["rotator status --check", "for monitoring: 0 fine, 10-13 otherwise"],
    ["rotator status --config fleet.yaml", "a fleet: one row per account"],
  ],
  async run({ options, context, definition }) {
    const [{ runConfigCommand }, { status }, { renderStatus }, { fleetStatusCommand }] = await Promise.all([
      import("../shared/run-config-command.js"),
      import("./run.js"),
      import("./render.js"),
      import("./fleet.js"),
    ]);
    // The operation's code loads while the config and the engine's context do.
    status.preload();
    const statusOptions = { check: options.check ?? false, graceDays: options.graceDays };
    await runConfigCommand({
      definition,
      options,
      context,
      action: (engine) => status(engine, statusOptions),
      render: renderStatus,
      fleet: fleetStatusCommand(definition, statusOptions),
    });
  },
});

function days(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--grace-days must be a whole number, not "${value}"`);
  return n;
}
