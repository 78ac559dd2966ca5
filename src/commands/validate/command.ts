/** `rotator validate`: check config files alone, offline, for CI. */
import { defineCommand } from "../shared/define-command.js";
import type { ValidateCommandOptions } from "./options.js";

export const validateCommand = defineCommand<ValidateCommandOptions>({
  name: "validate",
  description: "check config files alone: syntax, schema, fleet templates; offline, reads no variable (for CI)",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .argument("[files...]", "config files (default: --config, $ROTATOR_CONFIG, else ./rotator.yaml or .yml)")
      .option("-c, --config <path>", "the config file, as other commands take it")
      .option("--require-env", "also fail when a variable the config names ({ env: NAME }) is not set")
      .option("--json", "print one JSON result object on stdout")
      .option("--no-color", "no color or emphasis"),
  help: `
Nothing is contacted: no Twilio, no store, no database, and no variable is
read unless --require-env. Exit 0 when every file is valid, 2 otherwise,
with each problem at its path in the file.
`,
  examples: [
    ["rotator validate", "./rotator.yaml"],
    ["rotator validate deploy/*.yaml --json", "every config of a repository, in CI"],
    ["rotator validate --require-env", "on the host, before the first run"],
  ],
  async run({ options, args, context }) {
    const { runValidateCommand } = await import("./run.js");
    await runValidateCommand(args, options, context);
  },
});
