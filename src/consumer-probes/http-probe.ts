/**
 * The http probe: GET the consumer's status URL, which answers 200 with
 * `{"keySid": "SK…", "authenticated": true}` (API keys) or `{"tokenFingerprint": "<16 hex>", "authenticated": true}`
 * (auth tokens). An optional reload hook is POSTed first.
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { credentialTypeOf } from "../credentials/registry.js";
import { ExitCode, RotatorError } from "../errors.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { httpCall } from "./http-request.js";
import type { ConsumerProbe, Expected, ProbeReport, WebhookExpectation } from "./probe.js";
import type { HttpConsumerEntry } from "./schema.js";

type Env = Readonly<Record<string, string | undefined>>;

function resolveHeaders(headers: HttpConsumerEntry["headers"], consumer: string, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === "string") out[name] = value;
    else {
      const resolved = env[value.env];
      if (resolved === undefined || resolved === "") {
        throw new RotatorError(
          `consumer "${consumer}": header ${name} reads environment variable ${value.env}, which is not set`,
          { exitCode: ExitCode.badInput, hint: `export ${value.env} before running rotator` },
        );
      }
      // A header from the environment is a credential (a bearer token): never let it reach output.
      registerSecret(resolved);
      out[name] = resolved;
    }
  }
  return out;
}

function readCa(consumer: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new RotatorError(
      `consumer "${consumer}": caFile ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`,
      {
        exitCode: ExitCode.badInput,
        hint: "point caFile at the PEM file of the CA that signed the consumer's certificate",
      },
    );
  }
}

export function createHttpProbe(entry: HttpConsumerEntry, options: { baseDir: string; env: Env }): ConsumerProbe {
  const ca = entry.caFile === undefined ? undefined : readCa(entry.name, resolve(options.baseDir, entry.caFile));
  const timeoutMs = entry.timeoutSeconds * 1000;
  const headers = resolveHeaders(entry.headers, entry.name, options.env);
  const reloadHeaders = entry.reload === undefined ? {} : resolveHeaders(entry.reload.headers, entry.name, options.env);
  const where = (url: string) => {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  };

  const probe: ConsumerProbe = {
    name: entry.name,
    type: "http",
    describe: () => `GET ${where(entry.url)}`,
    async check(expected: Expected): Promise<ProbeReport> {
      let answer: Awaited<ReturnType<typeof httpCall>>;
      try {
        answer = await httpCall("GET", entry.url, { headers, timeoutMs, ca });
      } catch (error) {
        return { state: "unreachable", detail: `${where(entry.url)}: ${(error as Error).message}` };
      }
      if (answer.status !== 200)
        return { state: "unreachable", detail: `${where(entry.url)} answered HTTP ${answer.status}` };
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        return { state: "bad-response", detail: `${where(entry.url)} did not answer JSON` };
      }
      return judge(body, expected);
    },
  };
  if (entry.reload !== undefined) {
    const reload = entry.reload;
    probe.reload = async () => {
      const answer = await httpCall("POST", reload.url, { headers: reloadHeaders, timeoutMs, ca });
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(`reload hook ${where(reload.url)} answered HTTP ${answer.status}`);
      }
      return undefined;
    };
  }
  return probe;
}

/** Compare a status answer with what we expect. Exported for the consumer library's own tests. */
export function judge(body: unknown, expected: Expected): ProbeReport {
  const report = judgeCredential(body, expected);
  if (report.state !== "converged" || expected.webhooks === undefined) return report;
  const fingerprints = (body as Record<string, unknown>).webhookTokenFingerprints;
  // Absent: the app does not validate webhooks, so there is nothing of it to wait for.
  if (fingerprints === undefined) return report;
  if (!Array.isArray(fingerprints) || !fingerprints.every((item) => typeof item === "string")) {
    return { ...report, state: "bad-response", detail: `"webhookTokenFingerprints" is not a list of strings` };
  }
  const problem = webhookTokenProblem(fingerprints, expected.webhooks);
  if (problem === undefined) {
    const shown = fingerprints.map((fingerprint) => maskSid(fingerprint)).join(", ");
    return { ...report, detail: `${report.detail}; validates webhooks with ${shown}` };
  }
  return { ...report, state: "other-webhook-tokens", detail: `${report.detail}, but ${problem}` };
}

/**
 * What is wrong with the tokens an app validates webhooks with (fingerprints), in words naming them masked; or
 * undefined when it validates with every one it must and none it must not. The command probe leaves this to its check.
 */
export function webhookTokenProblem(reported: readonly string[], expected: WebhookExpectation): string | undefined {
  const missing = expected.trusts.filter((fingerprint) => !reported.includes(fingerprint));
  const stale = expected.retired.filter((fingerprint) => reported.includes(fingerprint));
  const problems = [
    ...(missing.length === 0
      ? []
      : [`does not validate webhooks with ${missing.map((f) => maskSid(f)).join(", ")} yet`]),
    ...(stale.length === 0
      ? []
      : [`still validates webhooks with the retired ${stale.map((f) => maskSid(f)).join(", ")}`]),
  ];
  return problems.length === 0 ? undefined : problems.join(" and ");
}

/** The credential part of the judgement: the id reported, and whether it authenticates. */
function judgeCredential(body: unknown, expected: Expected): ProbeReport {
  if (body === null || typeof body !== "object")
    return { state: "bad-response", detail: "status is not a JSON object" };
  const record = body as Record<string, unknown>;
  const field = credentialTypeOf(expected.kind).consumerStatus.statusField;
  const reported = record[field];
  if (typeof reported !== "string" || typeof record.authenticated !== "boolean") {
    return { state: "bad-response", detail: `status lacks "${field}" (string) and "authenticated" (boolean)` };
  }
  const shown = maskSid(reported);
  const authenticated = record.authenticated;
  if (reported !== expected.id)
    return { state: "other-credential", reported: shown, detail: `uses ${shown}`, authenticated };
  if (!record.authenticated) {
    return {
      state: "not-authenticated",
      authenticated,
      reported: shown,
      detail: `uses ${shown}, but its last Twilio call failed to authenticate`,
    };
  }
  return { state: "converged", reported: shown, detail: `uses ${shown} and authenticates`, authenticated };
}
