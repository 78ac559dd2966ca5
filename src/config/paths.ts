/**
 * Which config file and which state directory a command uses: the flag, else the environment variable, else
 * the default. The default config is rotator.yaml or rotator.yml in the working directory; both at once is
 * an error rather than a silent pick, since the two may well differ.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultStateDir } from "../engine/journal.js";
import { ConfigError } from "../errors.js";
import type { Environment } from "./load.js";

/** The names looked for in a directory, in the order they are offered. */
export const DEFAULT_CONFIG_NAMES = ["rotator.yaml", "rotator.yml"] as const;

/** `--config`, else `ROTATOR_CONFIG`, else ./rotator.yaml or ./rotator.yml (./rotator.yaml if neither exists). */
export function resolveConfigPath(options: { flag?: string | undefined; env: Environment; cwd: string }): string {
  if (options.flag !== undefined && options.flag !== "") return options.flag;
  const fromEnv = options.env.ROTATOR_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const present = configFilesIn(options.cwd);
  if (present.length > 1) {
    throw new ConfigError(
      join(resolve(options.cwd), DEFAULT_CONFIG_NAMES[0]),
      [`both ${present.join(" and ")} exist; rotator will not guess which one is meant`],
      "remove or rename one of them, or pass --config PATH (or set ROTATOR_CONFIG)",
    );
  }
  return present[0] ?? join(resolve(options.cwd), DEFAULT_CONFIG_NAMES[0]);
}

/** `--state-dir`, else `ROTATOR_STATE_DIR`, else $XDG_STATE_HOME/rotator (~/.local/state/rotator). */
export function resolveStateDir(options: { flag?: string | undefined; env: Environment }): string {
  if (options.flag !== undefined && options.flag !== "") return options.flag;
  const fromEnv = options.env.ROTATOR_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return defaultStateDir(options.env);
}

/** The default-named config files that exist in a directory, as absolute paths. */
export function configFilesIn(dir: string): string[] {
  return DEFAULT_CONFIG_NAMES.map((name) => join(resolve(dir), name)).filter((file) => existsSync(file));
}
