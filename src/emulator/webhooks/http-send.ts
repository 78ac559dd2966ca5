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

export function sendWebhook(webhook: WebhookRequest, options: SendOptions): Promise<number> {
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
    request.once("error", (error) => settle(error));
    request.end(webhook.body);
  });
}
