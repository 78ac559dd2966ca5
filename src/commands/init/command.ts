/** `rotator init`: a commented config for the stores named, to start from. */
import { Argument, Option } from "commander";
import { defineCommand } from "../shared/define-command.js";
import type { InitCommandOptions } from "./options.js";
import { CREDENTIAL_TYPES, DEFAULT_CREDENTIAL_TYPE, isStoreType, STORE_TYPES } from "./store-types.js";

export const initCommand = defineCommand<InitCommandOptions>({
  name: "init",
  description: "write a commented config for the stores named, to start from (changes nothing else)",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .addArgument(new Argument("[stores...]", "store types, in the order they are written").choices([...STORE_TYPES]))
      .addOption(
        new Option("--credential <type>", "what is rotated")
          .choices([...CREDENTIAL_TYPES])
          .default(DEFAULT_CREDENTIAL_TYPE),
      )
      .option("-o, --output <file>", 'where to write it ("-": stdout)', "rotator.yaml")
      .option("--force", "replace the file if it exists"),
  help: `
Without store types, one dotenv file. Every value to change is marked
CHANGE ME; the file is valid as written, so \`rotator validate\` passes on it
and \`rotator plan\` then says what to fix against the real stores. An
existing file is left alone unless --force.
`,
  examples: [
    ["rotator init", "rotator.yaml with one dotenv file"],
    ["rotator init vault-kv2 aws-secrets-manager dotenv-file", "three stores, in that order"],
    ["rotator init azure-key-vault --credential auth-token", "rotate the Auth Token"],
    ["rotator init dotenv-file -o -", "print it instead"],
  ],
  async run({ options, args, context }) {
    const { runInitCommand } = await import("./run.js");
    // commander has checked each against the choices.
    await runInitCommand(args.filter(isStoreType), options, context);
  },
});
