/**
 * The command probe: run a configured check with the expected credential's id in its environment
 * (ROTATOR_EXPECTED_KEY_SID, or ROTATOR_EXPECTED_TOKEN_FINGERPRINT for auth tokens), and during an Auth Token
 * rotation the webhook tokens it must validate with (ROTATOR_EXPECTED_WEBHOOK_FINGERPRINTS, and
 * ROTATOR_RETIRED_WEBHOOK_FINGERPRINTS, which it must not). Exit 0 means the consumer uses it and authenticates. Its output is not shown: a check script may print anything, so it is
 * not captured at all (a buffer limit would turn a chatty passing check into a failure).
 *
 * The timeout is the probe's answer, not the child's: once it passes the check is unreachable, whatever it
 * does later, and a child that ignores SIGTERM gets SIGKILL after a short grace.
 */

import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { credentialTypeOf } from "../credentials/registry.js";
import type { ConsumerProbe, Expected, ProbeReport } from "./probe.js";
import type { CommandConsumerEntry } from "./schema.js";

/** How long a timed-out check has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 2_000;

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
      const variable = credentialTypeOf(expected.kind).consumerStatus.expectedVariable;
      return new Promise((done) => {
        let settled = false;
        const finish = (report: ProbeReport) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          done(report);
        };
        const child = spawn(file, args, {
          cwd,
          env: { ...checkEnvironment(entry, options.env), [variable]: expected.id, ...webhookVariables(expected) },
          stdio: "ignore",
        });
        const timer = setTimeout(() => {
          finish({ state: "unreachable", detail: `check did not finish within ${entry.timeoutSeconds} s` });
          child.kill("SIGTERM");
          setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          }, KILL_GRACE_MS).unref();
        }, entry.timeoutSeconds * 1000);
        child.once("error", (error: NodeJS.ErrnoException) => {
          finish({ state: "unreachable", detail: `cannot run ${file} (${error.code ?? error.message})` });
        });
        child.once("exit", (code, signal) => {
          if (code === 0) finish({ state: "converged", detail: "check passed (exit 0)" });
          else
            finish({
              state: "other-credential",
              detail: `check failed (${code === null ? `signal ${signal ?? "?"}` : `exit ${code}`})`,
            });
        });
      });
    },
  };
}

/**
 * The tokens an app must validate webhooks with, and those it must no longer, when a rotation says (fingerprints,
 * comma-separated; the retired list may be empty). The check decides: exit 0 still means converged.
 */
export function webhookVariables(expected: Expected): Record<string, string> {
  if (expected.webhooks === undefined) return {};
  return {
    ROTATOR_EXPECTED_WEBHOOK_FINGERPRINTS: expected.webhooks.trusts.join(","),
    ROTATOR_RETIRED_WEBHOOK_FINGERPRINTS: expected.webhooks.retired.join(","),
  };
}

/** What a check may see of rotator's environment: the basics plus what the config lists in passEnv. */
const BASE_VARIABLES = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR"];

function checkEnvironment(
  entry: CommandConsumerEntry,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...BASE_VARIABLES, ...entry.passEnv]) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
