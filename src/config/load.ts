/**
 * Loading a config: read, parse (YAML, of which JSON is a subset), validate, and resolve the `{ env }`
 * references. Every problem is reported at once with its path, so a user fixes the file in one pass.
 * Syntax errors are located in yaml.ts, schema issues worded in issues.ts, file lookup is in paths.ts.
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { expandTemplate, placeholderProblems, SAMPLE_VALUES, TEMPLATED_SECTIONS } from "../fleet/template.js";
import type { AdminCredentialShape } from "../twilio/diagnose.js";
import { registerSecret } from "../util/mask.js";
import { configErrorMap, formatIssues } from "./issues.js";
import { configFilesIn } from "./paths.js";
import { configSchema, type RotatorConfig } from "./schema.js";
import { parseConfigText } from "./yaml.js";

export interface LoadedConfig {
  config: RotatorConfig;
  /** Absolute path of the config file. */
  file: string;
  /** Relative paths in the config are resolved against this. */
  baseDir: string;
  /**
   * The admin credential with its secret resolved from the environment; undefined when it comes from a store
   * (`{ authToken: { fromStore } }`), which the engine reads when it builds the context.
   */
  admin: AdminCredentialShape | undefined;
  /**
   * A fleet config (`accounts:`): the file as parsed, whose stores and consumers are expanded per account
   * (fleet/units.ts). `config` then holds them expanded with sample values, as validated at load.
   */
  fleet?: { raw: Record<string, unknown> };
}

export type Environment = Readonly<Record<string, string | undefined>>;

export { formatIssues, formatPath } from "./issues.js";
export { parseConfigText } from "./yaml.js";

export function validateConfig(raw: unknown, file: string): RotatorConfig {
  const parsed = configSchema().safeParse(raw, { error: configErrorMap });
  if (!parsed.success) {
    throw new ConfigError(
      file,
      formatIssues(parsed.error.issues, { schema: configSchema(), input: raw }),
      "see config/examples/ and config/rotator.schema.json for every option",
    );
  }
  return parsed.data;
}

/**
 * The admin credential `config` names, its secret read from `env`; undefined when it comes from a store (read
 * when the context is built). Throws a ConfigError naming the variable when it is not set.
 */
export function resolveAdmin(config: RotatorConfig, file: string, env: Environment): AdminCredentialShape | undefined {
  const admin = config.twilio.admin;
  if ("authToken" in admin && "fromStore" in admin.authToken) return undefined;
  const [path, variable] =
    "authToken" in admin && "env" in admin.authToken
      ? ["twilio.admin.authToken.env", admin.authToken.env]
      : "apiKeySecret" in admin
        ? ["twilio.admin.apiKeySecret.env", admin.apiKeySecret.env]
        : ["twilio.admin", ""];
  const value = env[variable];
  if (value === undefined || value === "") {
    throw new ConfigError(
      file,
      [`${path}: environment variable ${variable} is ${value === undefined ? "not set" : "empty"}`],
      `export ${variable} with the ${"authToken" in admin ? "Auth Token" : "Main key's secret"} before running rotator`,
    );
  }
  registerSecret(value);
  return {
    accountSid: config.twilio.accountSid,
    username: "authToken" in admin ? config.twilio.accountSid : admin.apiKeySid,
    password: value,
    passwordSource: `env ${variable}`,
  };
}

export async function loadConfig(path: string, env: Environment = process.env): Promise<LoadedConfig> {
  const read = await readConfig(path);
  return {
    config: read.config,
    file: read.file,
    baseDir: read.baseDir,
    admin: resolveAdmin(read.config, read.file, env),
    ...(read.fleet === undefined ? {} : { fleet: read.fleet }),
  };
}

/** A config read and checked without the environment (`rotator validate`): no variable it names is read. */
export type ReadConfig = Omit<LoadedConfig, "admin"> & { raw: unknown };

export async function readConfig(path: string): Promise<ReadConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw readError(file, (error as NodeJS.ErrnoException).code ?? String(error));
  }
  const raw = parseConfigText(text, file);
  const fleetRaw = isRecord(raw) && raw.accounts !== undefined ? raw : undefined;
  if (isRecord(raw)) {
    const problems = placeholderProblems(raw, fleetRaw !== undefined);
    if (problems.length > 0) {
      throw new ConfigError(file, problems, "see the fleet example in config/examples/ for the placeholders");
    }
  }
  const config = validateConfig(fleetRaw === undefined ? raw : withSampleValues(fleetRaw), file);
  return {
    config,
    file,
    baseDir: dirname(file),
    raw,
    ...(fleetRaw === undefined ? {} : { fleet: { raw: fleetRaw } }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A fleet config with its templates filled with sample values: its shape is validated like any config's. */
function withSampleValues(raw: Record<string, unknown>): Record<string, unknown> {
  const out = { ...raw };
  for (const section of TEMPLATED_SECTIONS) {
    if (out[section] !== undefined) out[section] = expandTemplate(out[section], SAMPLE_VALUES);
  }
  return out;
}

/** Why the config file could not be read, and what to pass instead. */
function readError(file: string, code: string): ConfigError {
  switch (code) {
    case "ENOENT":
      return new ConfigError(
        file,
        ["file not found"],
        "pass --config PATH (or set ROTATOR_CONFIG), or make one with `rotator init` (e.g. `rotator init dotenv-file vault-kv2`); " +
          "without either, rotator looks for ./rotator.yaml or ./rotator.yml",
      );
    case "EISDIR": {
      const inside = configFilesIn(file);
      return new ConfigError(
        file,
        [
          `is a directory; pass the config file inside it, e.g. ${join(file, "rotator.yaml")}` +
            (inside.length > 0 ? ` (it holds ${inside.join(" and ")})` : ""),
        ],
        inside.length === 1 ? `pass --config ${inside[0]}` : "pass --config with the path of the config file",
      );
    }
    case "EACCES":
    case "EPERM":
      return new ConfigError(file, ["cannot read the file (permission denied)"], "check the file's permissions");
    default:
      return new ConfigError(file, [`cannot read the file (${code})`], "check the path and the file's permissions");
  }
}
