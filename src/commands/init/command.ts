/** `rotator init`: a commented config for the stores named, to start from. */
import { Argument, type Command, Option } from "commander";
import type { CommandContext } from "../shared/command-context.js";
import { examples } from "../shared/command-context.js";
import { CREDENTIAL_TYPES, STORE_TYPES } from "./store-types.js";

export interface InitCommandOptions {
  credential: (typeof CREDENTIAL_TYPES)[number];
  output: string;
  force?: boolean;
}

export function registerInitCommand(program: Command, context: CommandContext): void {
  program
    .command("init")
    .description("write a commented config for the stores named, to start from (changes nothing else)")
    .addArgument(new Argument("[stores...]", "store types, in the order they are written").choices([...STORE_TYPES]))
    .addOption(new Option("--credential <type>", "what is rotated").choices([...CREDENTIAL_TYPES]).default("api-key"))
    .option("-o, --output <file>", 'where to write it ("-": stdout)', "rotator.yaml")
    .option("--force", "replace the file if it exists")
    .addHelpText(
      "after",
      `
Without store types, one dotenv file. Every value to change is marked
CHANGE ME; the file is valid as written, so \`rotator validate\` passes on it
and \`rotator plan\` then says what to fix against the real stores. An
existing file is left alone unless --force.
${examples([
  ["rotator init", "rotator.yaml with one dotenv file"],
  ["rotator init vault-kv2 aws-secrets-manager dotenv-file", "three stores, in that order"],
  ["rotator init azure-key-vault --credential auth-token", "rotate the Auth Token"],
  ["rotator init dotenv-file -o -", "print it instead"],
])}`,
    )
    .action(async (stores: Array<(typeof STORE_TYPES)[number]>, options: InitCommandOptions) => {
      const { runInitCommand } = await import("./run.js");
      await runInitCommand(stores, options, context);
    });
}
