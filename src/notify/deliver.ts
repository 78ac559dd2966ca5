/**
 * Sending notifications. A notification is a side effect of a run, never part of it: every delivery is
 * bounded (a timeout per attempt, three attempts at most), a failure is returned as a warning line and never
 * thrown, and nothing here can change a run's result or exit code. Payloads are built from masked
 * identifiers only and pass through `redact` on their way out, as everything rotator writes does.
 */
import { createHmac, randomUUID } from "node:crypto";
import pRetry, { AbortError } from "p-retry";
import { redact, redactedJson, registerSecret } from "../util/mask.js";
import type { NotifyEntry, NotifyEvent } from "./schema.js";

/** What every notification says, whatever its channel. Secret-free: ids are masked (`SK…a1b2`). */
export interface NotifyPayload {
  event: NotifyEvent;
  /** One line for people, e.g. "run 2026…: completed". */
  summary: string;
  /** The masked account SID. */
  account: string;
  /** The config file the event concerns. */
  config: string;
  /** Event details: the run's result, or what watch found. */
  details: Record<string, unknown>;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export interface DeliveryOptions {
  env: Environment;
  /** Attempts per target; default 3. */
  attempts?: number;
  /** Backoff before the second attempt (doubled after); default 500 ms. */
  backoffMs?: number;
  /** Called once per delivered notification (tests, logs). */
  onDelivered?: (target: string) => void;
}

/** The header carrying the body's HMAC-SHA256, as `sha256=<hex>`, over `${timestamp}.${body}`. */
export const SIGNATURE_HEADER = "x-rotator-signature";
export const TIMESTAMP_HEADER = "x-rotator-timestamp";

/** The signature a receiver recomputes to trust a webhook body (see README, "Notifications"). */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * Send `payload` to every entry that wants its event, all at once. Resolves (never rejects) with one warning
 * per target that could not be reached, naming the target by its config position and never by a secret URL.
 */
export async function deliverAll(
  entries: readonly NotifyEntry[],
  payload: NotifyPayload,
  options: DeliveryOptions,
): Promise<string[]> {
  const wanted = entries
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => entry.events === undefined || entry.events.includes(payload.event));
  const outcomes = await Promise.all(
    wanted.map(async ({ entry, index }) => {
      const target = describeTarget(entry, index);
      try {
        await deliverOne(entry, payload, options);
        options.onDelivered?.(target);
        return undefined;
      } catch (error) {
        return `notification ${payload.event} to ${target} failed: ${redact(messageOf(error))}; the outcome is unchanged`;
      }
    }),
  );
  return outcomes.filter((warning): warning is string => warning !== undefined);
}

/** `notify[0] (webhook https://hooks.example.com/rotator)`; a Slack URL is a credential and is not shown. */
export function describeTarget(entry: NotifyEntry, index: number): string {
  if (entry.type === "slack") return `notify[${index}] (slack, ${entry.url.env})`;
  const url = new URL(entry.url);
  return `notify[${index}] (webhook ${url.origin}${url.pathname})`;
}

async function deliverOne(entry: NotifyEntry, payload: NotifyPayload, options: DeliveryOptions): Promise<void> {
  const { url, body, headers } = request(entry, payload, options.env);
  const timeoutMs = entry.timeoutSeconds * 1000;
  let attempts = 0;
  await pRetry(
    async () => {
      attempts += 1;
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "error",
        });
      } catch (error) {
        // Node's fetch says "fetch failed" and keeps the reason in `cause`; a timeout is a DOMException.
        const cause = (error as { cause?: unknown }).cause;
        const reason =
          (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : messageOf(cause ?? error);
        throw new Error(reason);
      }
      // The body is not needed, and an unread body keeps the socket.
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return;
      const failure = new Error(`HTTP ${response.status}`);
      // A 4xx (but 408 and 429) will not get better by asking again.
      if (response.status < 500 && response.status !== 408 && response.status !== 429) throw new AbortError(failure);
      throw failure;
    },
    {
      retries: Math.max(0, (options.attempts ?? 3) - 1),
      minTimeout: options.backoffMs ?? 500,
      factor: 2,
      randomize: false,
    },
  ).catch((error: unknown) => {
    throw new Error(`${messageOf(error)} (${attempts} attempt${attempts === 1 ? "" : "s"})`);
  });
}

function request(
  entry: NotifyEntry,
  payload: NotifyPayload,
  env: Environment,
): { url: string; body: string; headers: Record<string, string> } {
  if (entry.type === "slack") {
    const url = env[entry.url.env];
    if (url === undefined || url === "") throw new Error(`environment variable ${entry.url.env} is not set`);
    registerSecret(url);
    return {
      url,
      body: redactedJson(slackMessage(payload)),
      headers: { "content-type": "application/json" },
    };
  }
  const body = redactedJson({ ...payload, ts: new Date().toISOString() });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "rotator",
    "x-rotator-event": payload.event,
    "x-rotator-delivery": randomUUID(),
    [TIMESTAMP_HEADER]: timestamp,
  };
  if (entry.secret !== undefined) {
    const secret = env[entry.secret.env];
    if (secret === undefined || secret === "") throw new Error(`environment variable ${entry.secret.env} is not set`);
    registerSecret(secret);
    headers[SIGNATURE_HEADER] = signBody(secret, timestamp, body);
  }
  return { url: entry.url, body, headers };
}

const ICONS: Record<NotifyEvent, string> = {
  completed: ":white_check_mark:",
  failed: ":x:",
  "rolled-back": ":leftwards_arrow_with_hook:",
  "awaiting-consumers": ":hourglass_flowing_sand:",
  "needs-operator": ":rotating_light:",
  "watch-failure": ":rotating_light:",
  "watch-recovered": ":white_check_mark:",
};

/** Slack's incoming-webhook message: `text` (mrkdwn), shown in the notification and the channel. */
export function slackMessage(payload: NotifyPayload): { text: string } {
  const lines = [`${ICONS[payload.event]} *rotator ${payload.event}*: ${payload.summary}`];
  lines.push(`account ${payload.account}, config \`${payload.config}\``);
  const problems = payload.details.problems;
  if (Array.isArray(problems)) for (const problem of problems.slice(0, 10)) lines.push(`• ${String(problem)}`);
  for (const key of ["error", "hint", "next"] as const) {
    const value = payload.details[key];
    if (typeof value === "string") lines.push(`${key}: ${value}`);
  }
  return { text: lines.join("\n") };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
