/**
 * A kept-alive connection the receiver closes as the next webhook goes out on it (a server's idle timeout racing the
 * request) is not a failed delivery: the webhook is sent once more on a new connection. A receiver that closes every
 * connection unanswered still fails the delivery, after that one retry.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sendWebhook, WebhookAgents } from "../../src/emulator/webhooks/http-send.js";
import { webhookRequest } from "../../src/emulator/webhooks/signature.js";

let server: Server | undefined;
const agents = new WebhookAgents();
afterEach(async () => {
  agents.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

/** A receiver answering the first request on each connection and, per `closeReused`, closing on later ones. */
async function receiver(
  answer: (requestOnConnection: number) => "answer" | "close",
): Promise<{ url: string; seen: () => number }> {
  let seen = 0;
  const onConnection = new WeakMap<object, number>();
  server = createServer((req, res) => {
    seen += 1;
    const n = (onConnection.get(req.socket) ?? 0) + 1;
    onConnection.set(req.socket, n);
    if (answer(n) === "close") {
      req.socket.destroy();
      return;
    }
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/sms`, seen: () => seen };
}

const options = () => ({ headers: {}, timeoutMs: 5_000, agents, signal: new AbortController().signal });

describe("webhook delivery over a kept-alive connection", () => {
  it("sends again on a new connection when the reused one is closed unanswered", async () => {
    const { url, seen } = await receiver((n) => (n === 1 ? "answer" : "close"));
    const request = webhookRequest(url, "POST", { Body: "hi" });
    expect(await sendWebhook(request, options())).toBe(204);
    // The second goes out on the kept-alive connection, which the receiver closes; the retry is answered.
    expect(await sendWebhook(request, options())).toBe(204);
    expect(seen()).toBe(3);
  });

  it("fails after one retry when the receiver closes every connection unanswered", async () => {
    const { url, seen } = await receiver(() => "close");
    const request = webhookRequest(url, "POST", { Body: "hi" });
    await expect(sendWebhook(request, options())).rejects.toThrow();
    // A fresh connection closed unanswered is the receiver's failure: not retried.
    expect(seen()).toBe(1);
  });
});
