/**
 * Which config file and state directory a command uses: the flag, else the environment variable, else the
 * default. For the config that is ./rotator.yaml or ./rotator.yml in the working directory (both at once is
 * ambiguous, and an error); for the state directory, $XDG_STATE_HOME/rotator or ~/.local/state/rotator.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultStateDir } from "../engine/journal.js";
import { ConfigError } from "../errors.js";

type Environment = Readonly<Record<string, string | undefined>>;

export const DEFAULT_CONFIG_NAMES = ["rotator.yaml", "rotator.yml"] as const;

export function resolveConfigPath(options: { flag?: string | undefined; env: Environment; cwd: string }): string {
  if (options.flag !== undefined && options.flag !== "") return resolve(options.cwd, options.flag);
  const fromEnv = options.env.ROTATOR_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(options.cwd, fromEnv);
  const found = DEFAULT_CONFIG_NAMES.map((name) => join(options.cwd, name)).filter((path) => existsSync(path));
  if (found.length > 1) {
    throw new ConfigError(
      found[0] as string,
      [`both ${found.join(" and ")} exist, and rotator cannot tell which one you mean`],
      "remove one of them, or pass --config PATH (or set ROTATOR_CONFIG)",
    );
  }
  return found[0] ?? join(options.cwd, DEFAULT_CONFIG_NAMES[0]);
}

export function resolveStateDir(options: { flag?: string | undefined; env: Environment; cwd: string }): string {
  if (options.flag !== undefined && options.flag !== "") return resolve(options.cwd, options.flag);
  const fromEnv = options.env.ROTATOR_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(options.cwd, fromEnv);
  return defaultStateDir(options.env);
}
