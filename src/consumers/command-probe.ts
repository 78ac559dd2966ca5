/**
 * The command probe: run a configured check with the expected credential's id in its environment
 * (ROTATOR_EXPECTED_KEY_SID, or ROTATOR_EXPECTED_TOKEN_FINGERPRINT for auth tokens). Exit 0 means the
 * consumer uses it and authenticates. Its output is not shown: a check script may print anything.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import type { ConsumerProbe, Expected, ProbeReport } from "./probe.js";
import type { CommandConsumerEntry } from "./schema.js";

export function createCommandProbe(
  entry: CommandConsumerEntry,
  options: { baseDir: string; env: Readonly<Record<string, string | undefined>> },
): ConsumerProbe {
  const [file, ...args] = entry.command as [string, ...string[]];
  const cwd = resolve(options.baseDir, entry.cwd ?? ".");
  return {
    name: entry.name,
    type: "command",
    describe: () => `command ${file}`,
    check(expected: Expected): Promise<ProbeReport> {
      const variable = expected.kind === "api-key" ? "ROTATOR_EXPECTED_KEY_SID" : "ROTATOR_EXPECTED_TOKEN_FINGERPRINT";
      return new Promise((done) => {
        execFile(
          file,
          args,
          {
            cwd,
            env: { ...(options.env as NodeJS.ProcessEnv), [variable]: expected.id },
            timeout: entry.timeoutSeconds * 1000,
            maxBuffer: 1024 * 1024,
          },
          (error) => {
            if (error === null) {
              done({ state: "converged", detail: "check passed (exit 0)" });
              return;
            }
            const code = (error as NodeJS.ErrnoException).code;
            if (code === "ENOENT" || code === "EACCES") {
              done({ state: "unreachable", detail: `cannot run ${file} (${code})` });
            } else if (error.killed) {
              done({ state: "unreachable", detail: `check did not finish within ${entry.timeoutSeconds} s` });
            } else {
              done({
                state: "other-credential",
                detail: `check failed (exit ${typeof code === "number" ? code : "?"})`,
              });
            }
          },
        );
      });
    },
  };
}
