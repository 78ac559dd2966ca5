/** `rotator plan`: the dry run. */
import { type CommonOptions, startSandboxFirst } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface PlanOptions extends CommonOptions {
  emergency?: boolean;
  revokeImmediately?: boolean;
  allowSharedRevoke?: boolean;
  adminFromEnv?: string;
}

export const planCommand = defineCommand<PlanOptions>({
  name: "plan",
  description: "dry run: check everything and list the changes rotate would make; changes nothing",
  commonOptions: "config-and-sandbox",
  // It plans a new run on each account: shared stores are refused as rotate would refuse them.
  fleet: { accounts: "listed", startsRuns: true, doneStatus: "planned" },
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .option("--emergency", "plan an emergency rotation (the current key may already be dead)")
      .option("--revoke-immediately", "with --emergency: plan a revoke that does not wait for consumers")
      .option("--allow-shared-revoke", "plan as if rotate were given --allow-shared-revoke")
      .option("--admin-from-env <name>", "with --emergency: plan as if rotate were given --admin-from-env"),
  help: `
The changes are grouped by target (the Twilio account, each store, each
consumer): + create, ~ update, - revoke, ? wait or check; ids masked, lines
wrapped to COLUMNS, else the terminal's width, else 80; the count last.

For an Auth Token config, plan also lists the configs this state's journals
know whose admin credential is this account's token (they hold a dead one
once the new token is promoted), and reports an unfinished run of the
account, or a claim of its token slot, that rotate would stop on.
`,
  examples: [
    ["rotator plan", "check ./rotator.yaml and list the changes"],
    ["COLUMNS=60 rotator plan > plan.txt", "the same, wrapped at 60 columns"],
    ["rotator plan --sandbox", "the same on the built-in sandbox"],
    ["rotator plan --json | jq .summary", "the one-line count of changes"],
    ["rotator plan --config fleet.yaml", "a fleet: its accounts, and any rotate would fail on"],
  ],
  async run({ options, context, definition }) {
    if ((options.revokeImmediately || options.adminFromEnv !== undefined) && !options.emergency) {
      const flag = options.revokeImmediately ? "--revoke-immediately" : "--admin-from-env";
      context.runtime.stderr.write(`rotator: ${flag} goes with --emergency\n`);
      context.exit.code = 2;
      return;
    }
    const commandOptions = startSandboxFirst(options, context);
    if (commandOptions === undefined) return;
    const [{ runConfigCommand }, { plan }, { renderPlan }, { fleetPlanCommand }, { terminalWidth }] = await Promise.all(
      [
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("./render.js"),
        import("./fleet.js"),
        import("./changes.js"),
      ],
    );
    const width = terminalWidth(context.runtime.stdout, context.runtime.env);
    const planOptions = {
      emergency: options.emergency ?? false,
      revokeImmediately: options.revokeImmediately ?? false,
      allowSharedRevoke: options.allowSharedRevoke ?? false,
      ...(options.adminFromEnv === undefined ? {} : { adminFromEnv: options.adminFromEnv }),
    };
    await runConfigCommand({
      definition,
      options: commandOptions,
      context,
      action: (engine) => plan(engine, planOptions),
      render: (result, output) => renderPlan(result, output, width),
      fleet: fleetPlanCommand(definition, planOptions),
    });
  },
});
