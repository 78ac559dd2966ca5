/**
 * One app instance of the sandbox (`--sandbox`), built only on the public consumer library, like an app
 * of yours would be: it reads its Twilio credential from a dotenv file, calls Twilio (the emulator) every
 * 50 ms, and serves the status and reload endpoints rotator's http consumer probe uses, plus /stats: how
 * many calls it made and how many Twilio refused with 20003 (every refusal counts, including ones the
 * library then retried with a re-read credential). An Auth Token app (`"webhooks": true`) also takes the
 * webhooks Twilio sends its number at POST /webhooks/sms, validated with the library's webhookValidator
 * (the token set its store holds), and counts them in /stats: received, and rejected with 403.
 *
 * The sandbox starts its apps before its emulator exists, so that loading their modules (most of an app's
 * start-up) overlaps rotator's own: an app loads, then waits for one JSON line on stdin,
 * `{"store": <store entry>, "twilioBaseUrl": "<emulator origin>"}`, sent once its file holds a key. It
 * prints {"port"} once it has read that key and is listening. Its stdin stays open: when it ends, however
 * the sandbox ended (even kill -9), so does this app. The line also says what the store holds (`"kind"`)
 * and whether the app takes webhooks (`"webhooks"`).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { TwilioCredentials } from "../consumer/index.js";
import { isTwilioApiError } from "../twilio/client.js";

interface AppSettings {
  store: unknown;
  twilioBaseUrl: string;
  kind: string;
  webhooks: boolean;
}

const input = createInterface({ input: process.stdin });
// Until it serves, an app that loses its sandbox has nothing to finish.
const exitAtOnce = () => process.exit(0);
input.once("close", exitAtOnce);
const settings = await new Promise<AppSettings>((resolve) => {
  input.once("line", (line) => resolve(JSON.parse(line) as AppSettings));
});

const credentials = new TwilioCredentials({
  store: settings.store,
  kind: settings.kind,
  ttlSeconds: 60,
  twilioBaseUrl: settings.twilioBaseUrl,
});
// Made before the app serves, as an app should: its status answer says from the first probe which tokens it
// validates webhooks with.
const webhooks = settings.webhooks ? credentials.webhookValidator() : undefined;
const takeWebhook = webhooks?.handler();

const stats = { requests: 0, refused: 0, failed: 0 };
let stopping = false;
/** Ends the pause between two calls early, so that a stopping app does not sit out its 50 ms. */
let wake: () => void = () => undefined;

async function callTwilioForever(): Promise<void> {
  while (!stopping) {
    stats.requests += 1;
    try {
      await credentials.withClient(async (client) => {
        const credential = await credentials.current();
        try {
          // The Messages list through the client's generic request rather than `api.v2010.accounts(…)`, which
          // loads the whole 2010 resource tree (about 90 modules) into each app: the same call on the wire.
          return await client.request({
            method: "get",
            uri: `https://api.twilio.com/2010-04-01/Accounts/${credential.accountSid}/Messages.json?PageSize=1`,
          });
        } catch (error) {
          if (isTwilioApiError(error) && error.status === 401) stats.refused += 1;
          throw error;
        }
      });
    } catch (error) {
      if (!(isTwilioApiError(error) && error.status === 401)) stats.failed += 1;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 50);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

const status = credentials.statusHandler();
const reload = credentials.reloadHandler();
const server = createServer((req, res) => {
  if (req.url === "/.well-known/twilio-credential") return status(req, res);
  if (req.url === "/-/reload-credentials" && req.method === "POST") return reload(req, res);
  if (req.url === "/webhooks/sms" && takeWebhook !== undefined) return takeWebhook(req, res);
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    const counted = {
      webhooksReceived: (webhooks?.accepted ?? 0) + (webhooks?.rejected ?? 0),
      webhooksRejected: webhooks?.rejected ?? 0,
    };
    return res.end(JSON.stringify({ ...stats, ...counted }));
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
  wake();
  server.close();
  server.closeAllConnections();
  void calling.finally(() => credentials.close().finally(() => process.exit(0)));
}
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, stop);
input.off("close", exitAtOnce);
input.on("close", stop);
process.stdin.on("error", stop);
