/**
 * A plain node:http server on 127.0.0.1 standing in for an app that receives Twilio's webhooks: it records
 * every request as it arrived (the full URL a validator would rebuild, headers, form parameters) and
 * answers with what `respond` says: a status (200 by default), or "hold" to never answer (until closed).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  method: string;
  /** `http://127.0.0.1:<port><path and query as requested>`. */
  url: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** The form parameters of a POST ({} for a GET). */
  params: Record<string, string>;
  signature: string;
}

export interface WebhookReceiver {
  origin: string;
  received: ReceivedWebhook[];
  /** Answer status for a request, or "hold"; change it mid-test to simulate a failing or hanging app. */
  respond: (webhook: ReceivedWebhook) => number | "hold";
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const receiver: WebhookReceiver = {
    origin: "",
    received,
    respond: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const webhook: ReceivedWebhook = {
        method: req.method ?? "",
        url: `${receiver.origin}${req.url ?? ""}`,
        path: new URL(req.url ?? "/", receiver.origin).pathname,
        headers: req.headers,
        params: req.method === "POST" ? Object.fromEntries(new URLSearchParams(body)) : {},
        signature: String(req.headers["x-twilio-signature"] ?? ""),
      };
      received.push(webhook);
      const status = receiver.respond(webhook);
      if (status !== "hold") res.writeHead(status, { "Content-Type": "text/xml" }).end("<Response/>");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
