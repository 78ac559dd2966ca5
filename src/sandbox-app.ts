/**
 * One app instance of the sandbox (`--sandbox`), built only on the public consumer library, like an app
 * of yours would be: it reads its Twilio credential from a dotenv file, calls Twilio (the emulator) every
 * 50 ms, and serves the status and reload endpoints rotator's http consumer probe uses, plus /stats: how
 * many calls it made and how many Twilio refused with 20003 (every refusal counts, including ones the
 * library then retried with a re-read credential).
 *
 * Env: SANDBOX_APP_STORE (JSON store entry), SANDBOX_TWILIO_BASE_URL. Prints {"port"} once listening.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { TwilioCredentials } from "./consumer/index.js";
import { isTwilioApiError } from "./twilio/client.js";

const credentials = new TwilioCredentials({
  store: JSON.parse(process.env.SANDBOX_APP_STORE ?? "{}"),
  ttlSeconds: 60,
  twilioBaseUrl: process.env.SANDBOX_TWILIO_BASE_URL ?? "",
});

const stats = { requests: 0, refused: 0, failed: 0 };
let stopping = false;

async function callTwilioForever(): Promise<void> {
  while (!stopping) {
    stats.requests += 1;
    try {
      await credentials.withClient(async (client) => {
        const credential = await credentials.current();
        try {
          return await client.api.v2010.accounts(credential.accountSid).messages.list({ limit: 1 });
        } catch (error) {
          if (isTwilioApiError(error) && error.status === 401) stats.refused += 1;
          throw error;
        }
      });
    } catch (error) {
      if (!(isTwilioApiError(error) && error.status === 401)) stats.failed += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const status = credentials.statusHandler();
const reload = credentials.reloadHandler();
const server = createServer((req, res) => {
  if (req.url === "/.well-known/twilio-credential") return status(req, res);
  if (req.url === "/-/reload-credentials" && req.method === "POST") return reload(req, res);
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(stats));
  }
  res.writeHead(404);
  res.end();
});

await credentials.current();
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
const calling = callTwilioForever();

function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  void calling.finally(() => credentials.close().finally(() => process.exit(0)));
}
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, stop);
// The sandbox holds our stdin open: when it ends, however it ended (even kill -9), so does this app.
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
