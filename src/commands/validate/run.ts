/**
 * Running `rotator validate`: each file read and checked as every command checks it when it loads (syntax with
 * its location, the schema with each problem's path, a fleet's templates), without the environment: the
 * variables a config names are listed, and required only with --require-env.
 */
import { resolve } from "node:path";
import { makeOutput } from "../../cli/output.js";
import { resolveConfigPath } from "../../config/paths.js";
import { RESULT_SCHEMA_VERSION } from "../../engine/result.js";
import { ConfigError, ExitCode, errorMessage } from "../../errors.js";
import { redactedJson } from "../../util/mask.js";
import type { CommandContext } from "../shared/command-context.js";
import type { ValidateCommandOptions } from "./options.js";

interface FileVerdict {
  file: string;
  valid: boolean;
  problems: string[];
  /** What the config is, when valid: its credential type and how many stores, consumers and accounts. */
  summary?: string;
  /** The environment variables it names ({ env: NAME }), in the order they appear. */
  variables: string[];
}

export async function runValidateCommand(
  files: string[],
  options: ValidateCommandOptions,
  { runtime, exit }: CommandContext,
): Promise<void> {
  const output = makeOutput(runtime, runtime.env, options.color);
  const { readConfig } = await import("../../config/load.js");
  const paths =
    files.length > 0
      ? files.map((file) => resolve(runtime.cwd, file))
      : [resolve(runtime.cwd, resolveConfigPath({ flag: options.config, env: runtime.env, cwd: runtime.cwd }))];
  const verdicts: FileVerdict[] = [];
  for (const path of paths) {
    try {
      const read = await readConfig(path);
      const variables = envReferences(read.raw);
      const unset = options.requireEnv ? variables.filter((name) => !runtime.env[name]) : [];
      const { config } = read;
      const accounts = read.fleet === undefined ? "" : ", a fleet of accounts";
      verdicts.push({
        file: read.file,
        valid: unset.length === 0,
        problems: unset.map(
          (name) => `environment variable ${name} is not set (the config names it as { env: ${name} })`,
        ),
        summary: `${config.credential.type}, ${config.stores.length} store(s), ${config.consumers.length} consumer(s)${accounts}`,
        variables,
      });
    } catch (error) {
      verdicts.push({
        file: path,
        valid: false,
        problems: error instanceof ConfigError ? error.problems : [errorMessage(error)],
        variables: [],
      });
    }
  }
  const valid = verdicts.every((verdict) => verdict.valid);
  exit.code = valid ? ExitCode.completed : ExitCode.badInput;
  if (options.json) {
    const result = {
      schemaVersion: RESULT_SCHEMA_VERSION,
      command: "validate",
      status: valid ? "valid" : "invalid",
      exitCode: exit.code,
      files: verdicts,
    };
    runtime.stdout.write(`${redactedJson(result, 2)}\n`);
    return;
  }
  const s = output.out;
  for (const verdict of verdicts) {
    if (verdict.valid) {
      const reads = verdict.variables.length > 0 ? `; reads ${verdict.variables.join(", ")}` : "";
      output.print(`${s.ok(s.tick)} ${verdict.file}: valid (${verdict.summary}${reads})`);
    } else {
      output.print([
        `${s.fail(s.cross)} ${verdict.file}: ${s.fail("invalid")}`,
        ...verdict.problems.map((p) => `    - ${p}`),
      ]);
    }
  }
  if (!valid) output.print(`${verdicts.filter((v) => !v.valid).length} of ${verdicts.length} file(s) invalid (exit 2)`);
}

/** Every `{ env: NAME }` in the parsed file, in order, once each. */
function envReferences(raw: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]?.[0] === "env" && typeof entries[0][1] === "string") {
      if (!found.includes(entries[0][1])) found.push(entries[0][1]);
      return;
    }
    for (const [, child] of entries) walk(child);
  };
  walk(raw);
  return found;
}
