/** `rotator version` (and `--version`, `-v`): rotator's version, the Node.js running it, the platform. */
import { RESULT_SCHEMA_VERSION } from "../../engine/result.js";
import { packageVersion } from "../../util/package-root.js";
import { defineCommand } from "../shared/define-command.js";

export function versionLine(version: string): string {
  return `rotator ${version} (node ${process.version}, ${process.platform}-${process.arch})`;
}

export const versionCommand = defineCommand<{ json?: boolean }>({
  name: "version",
  description: "print rotator's version, the Node.js version and the platform",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command) => command.option("--json", "print them as one JSON object"),
  examples: [
    ["rotator version", "rotator's version, Node.js's, the platform"],
    ["rotator version --json | jq -r .version", "the version alone"],
  ],
  run({ options, context: { runtime } }) {
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
  },
});
