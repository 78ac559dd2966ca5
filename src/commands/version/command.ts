/** `rotator version` (and `--version`, `-v`): rotator's version, the Node.js running it, the platform. */
import type { Command } from "commander";
import { RESULT_SCHEMA_VERSION } from "../../engine/result.js";
import { packageVersion } from "../../util/package-root.js";
import type { CommandContext } from "../shared/command-context.js";

export function versionLine(version: string): string {
  return `rotator ${version} (node ${process.version}, ${process.platform}-${process.arch})`;
}

export function registerVersionCommand(program: Command, { runtime }: CommandContext): void {
  program
    .command("version")
    .description("print rotator's version, the Node.js version and the platform")
    .option("--json", "print them as one JSON object")
    .addHelpText("after", "\nExamples:\n  rotator version\n  rotator version --json | jq -r .version")
    .action((options: { json?: boolean }) => {
      const version = packageVersion();
      if (options.json) {
        const result = {
          schemaVersion: RESULT_SCHEMA_VERSION,
          command: "version",
          version,
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
        };
        runtime.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else runtime.stdout.write(`${versionLine(version)}\n`);
    });
}
