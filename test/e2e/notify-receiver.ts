/**
 * A local webhook receiver for the notification tests: records every POST (headers and body) and answers
 * as told: 200, 500, or never (a hanging webhook). Bodies are pushed into the harness transcript, so the
 * secret scan of each test file covers every payload too.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { transcript } from "./harness.js";

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: { event: string; summary: string; account: string; config: string; details: Record<string, unknown> } & Record<
    string,
    unknown
  >;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** How to answer a path: "ok" (200), "fail" (500), "hang" (no answer until close). Default ok. */
  answer: Map<string, "ok" | "fail" | "hang">;
  events(path?: string): string[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const answer = new Map<string, "ok" | "fail" | "hang">();
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      transcript.push(body);
      const path = req.url ?? "/";
      let json: Received["json"];
      try {
        json = JSON.parse(body) as Received["json"];
      } catch {
        json = { event: "unparsable", summary: "", account: "", config: "", details: {} };
      }
      received.push({ path, headers: req.headers, body, json });
      const mode = answer.get(path) ?? "ok";
      if (mode === "hang") {
        hanging.push(res);
        return;
      }
      res.writeHead(mode === "ok" ? 200 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answer,
    events: (path) => received.filter((r) => path === undefined || r.path === path).map((r) => r.json.event),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Whether a body carries a valid X-Rotator-Signature for this secret. */
export function validSignature(received: Received, secret: string): boolean {
  const timestamp = String(received.headers["x-rotator-timestamp"]);
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${received.body}`).digest("hex")}`;
  return received.headers["x-rotator-signature"] === expected;
}
