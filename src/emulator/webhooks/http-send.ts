/**
 * Sends one webhook request over node:http or node:https and returns the status it was answered with.
 * Throws when no answer came (connection refused, reset, timeout, or the emulator closing). The response
 * body is read and dropped: Twilio would execute the TwiML in it; the emulator only needs the status.
 */
import { Agent as HttpAgent, request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { WebhookRequest } from "./signature.js";

/** Connections kept alive between webhooks, as a receiver under steady traffic would see from Twilio. */
export class WebhookAgents {
  readonly http = new HttpAgent({ keepAlive: true });
  readonly https = new HttpsAgent({ keepAlive: true });

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

export interface SendOptions {
  headers: OutgoingHttpHeaders;
  timeoutMs: number;
  agents: WebhookAgents;
  signal: AbortSignal;
}

/**
 * Sends it; once more when a kept-alive connection turned out closed by the receiver as the request went out (the
 * race every keep-alive client has with a server's idle timeout, which Node's docs answer with this retry): the
 * receiver closed that connection before answering on it, so the request is sent again on a new one (once).
 */
export async function sendWebhook(webhook: WebhookRequest, options: SendOptions): Promise<number> {
  try {
    return await sendOnce(webhook, options);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    return sendOnce(webhook, options);
  }
}

/** A request written to a reused connection the receiver had closed (reset, or closed before any answer). */
class StaleConnectionError extends Error {
  override readonly name = "StaleConnectionError";
}

const STALE_CONNECTION_CODES = new Set(["ECONNRESET", "EPIPE"]);

function sendOnce(webhook: WebhookRequest, options: SendOptions): Promise<number> {
  const url = new URL(webhook.url);
  const secure = url.protocol === "https:";
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (webhook.body !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    headers["Content-Length"] = Buffer.byteLength(webhook.body);
  }
  if (url.username !== "" || url.password !== "") {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.Authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  // The request line carries the path exactly as configured after the authority (no re-encoding).
  const path = webhook.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "").split("#", 1)[0] || "/";
  return new Promise<number>((resolve, reject) => {
    // Twilio gives a webhook 15 s in all by default, not per idle socket: one timer for the whole exchange.
    const timer = setTimeout(
      () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const settle = (error: Error | undefined, status?: number) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(status ?? 0);
    };
    const request = (secure ? httpsRequest : httpRequest)(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port === "" ? undefined : Number(url.port),
        method: webhook.method,
        path,
        headers,
        agent: secure ? options.agents.https : options.agents.http,
        signal: options.signal,
      },
      (response) => {
        response.resume();
        response.once("end", () => settle(undefined, response.statusCode));
        response.once("error", (error) => settle(error));
      },
    );
    request.once("error", (error: NodeJS.ErrnoException) => {
      const stale = request.reusedSocket && STALE_CONNECTION_CODES.has(error.code ?? "");
      settle(stale ? new StaleConnectionError(error.message, { cause: error }) : error);
    });
    request.end(webhook.body);
  });
}
