/** Writing the config `rotator init` makes: never over an existing file without --force, and mode 0600. */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ExitCode } from "../../errors.js";
import type { CommandContext } from "../shared/command-context.js";
import type { InitCommandOptions } from "./options.js";
import type { STORE_TYPES } from "./store-types.js";
import { initialConfig } from "./templates.js";

export async function runInitCommand(
  stores: Array<(typeof STORE_TYPES)[number]>,
  options: InitCommandOptions,
  { runtime, exit }: CommandContext,
): Promise<void> {
  const types = stores.length > 0 ? stores : (["dotenv-file"] as const);
  const text = initialConfig(types, options.credential);
  if (options.output === "-") {
    runtime.stdout.write(text);
    return;
  }
  const file = resolve(runtime.cwd, options.output);
  try {
    // "wx": created here or not at all, so a config someone already has is never overwritten by accident.
    await writeFile(file, text, { mode: 0o600, flag: options.force ? "w" : "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    runtime.stderr.write(
      code === "EEXIST"
        ? `rotator: ${file} exists; nothing was written (--force replaces it, -o FILE writes elsewhere)\n`
        : `rotator: cannot write ${file} (${code ?? String(error)}); nothing was written\n`,
    );
    exit.code = ExitCode.badInput;
    return;
  }
  const variables = [
    ...new Set([...text.matchAll(/^[^#\n]*\{ env: ([A-Z_][A-Z0-9_]*) \}/gm)].map((match) => match[1])),
  ];
  runtime.stdout.write(
    [
      `wrote ${file}: ${types.length} store(s), ${types.join(", ")}; ${options.credential}`,
      "next:",
      "  1. change every CHANGE ME in it (and uncomment consumers: for your apps)",
      ...(variables.length > 0
        ? [`  2. export ${variables.join(", ")} (the config reads them; never put them in the file)`]
        : []),
      `  ${variables.length > 0 ? 3 : 2}. rotator validate --config ${options.output}   (offline: the file alone)`,
      `  ${variables.length > 0 ? 4 : 3}. rotator plan --config ${options.output}       (against the real stores; changes nothing)`,
      "",
    ].join("\n"),
  );
}
