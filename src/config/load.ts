/**
 * Loading a config: read, parse (YAML, of which JSON is a subset), validate, and resolve the `{ env }`
 * references. Every problem is reported at once with its path, so a user fixes the file in one pass.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import type { AdminCredentialShape } from "../twilio/diagnose.js";
import { registerSecret } from "../util/mask.js";
import { configSchema, type RotatorConfig } from "./schema.js";

export interface LoadedConfig {
  config: RotatorConfig;
  /** Absolute path of the config file. */
  file: string;
  /** Relative paths in the config are resolved against this. */
  baseDir: string;
  /** The admin credential with its secret resolved from the environment. */
  admin: AdminCredentialShape;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** `stores[1].path`, the way a user finds it in their file. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(top level)" : out;
}

export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>): string[] {
  return issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys
        .map((key) => `${formatPath([...issue.path, key])}: unknown key; remove it or check its spelling`)
        .join("\n  - ");
    }
    if (issue.code === "invalid_union" && issue.path.at(-1) === undefined) {
      return `${formatPath(issue.path)}: ${issue.message}`;
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
}

export function parseConfigText(text: string, file: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => error.message.split("\n")[0] ?? error.message),
      "fix the YAML/JSON syntax at the line shown",
    );
  }
  return document.toJS();
}

export function validateConfig(raw: unknown, file: string): RotatorConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      formatIssues(parsed.error.issues),
      "see config/examples/ and config/rotator.schema.json for every option",
    );
  }
  return parsed.data;
}

function resolveAdmin(config: RotatorConfig, file: string, env: Environment): AdminCredentialShape {
  const admin = config.twilio.admin;
  const [path, variable] =
    "authToken" in admin
      ? ["twilio.admin.authToken.env", admin.authToken.env]
      : ["twilio.admin.apiKeySecret.env", admin.apiKeySecret.env];
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
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      file,
      [code === "ENOENT" ? "file not found" : `cannot read the file (${code ?? String(error)})`],
      code === "ENOENT"
        ? "pass --config PATH, or start from config/examples/rotator.example.yaml"
        : "check the file's permissions",
    );
  }
  const config = validateConfig(parseConfigText(text, file), file);
  return { config, file, baseDir: dirname(file), admin: resolveAdmin(config, file, env) };
}
