// An app instance as yours would be written, on the public consumer library (`rotator/consumer`): it reads its
// Twilio credential from one store (APP_STORE: a store entry as under `stores:` in a rotator config, JSON),
// calls Twilio every 250 ms, and serves the two endpoints rotator's http consumer probe uses, plus /stats.
//
//   APP_NAME=web-1 APP_STORE='{"name":"a","type":"dotenv-file","path":"app-a.env"}' node examples/local/app.mjs
//
// TWILIO_BASE_URL points it at an emulator; PORT (default: any free one) is where it listens. It prints one JSON
// line {"name","port"} once it serves, and ends when its stdin closes (the script that started it is gone).
import { createServer } from "node:http";
import { TwilioCredentials } from "rotator/consumer";

const name = process.env.APP_NAME ?? "app";
const stats = { name, requests: 0, failed: 0, refused: 0 };
const credentials = new TwilioCredentials({
  store: JSON.parse(process.env.APP_STORE ?? "null"),
  ttlSeconds: 30,
  ...(process.env.TWILIO_BASE_URL ? { twilioBaseUrl: process.env.TWILIO_BASE_URL } : {}),
  // Every 20003 Twilio answers, also one the library recovers from by re-reading the store: what to alert on.
  onAuthenticationFailure: () => {
    stats.refused += 1;
  },
});

const status = credentials.statusHandler();
const reload = credentials.reloadHandler();
const server = createServer((req, res) => {
  if (req.url === "/.well-known/twilio-credential") return status(req, res);
  if (req.url === "/-/reload-credentials" && req.method === "POST") return reload(req, res);
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(stats));
  }
  res.writeHead(404).end();
});

let stopping = false;
async function callTwilioForever() {
  while (!stopping) {
    stats.requests += 1;
    try {
      const { accountSid } = await credentials.current();
      await credentials.withClient((client) => client.api.v2010.accounts(accountSid).messages.list({ limit: 1 }));
    } catch {
      stats.failed += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

await credentials.current();
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ name, port: server.address().port })}\n`);
});
const calling = callTwilioForever();

function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  void calling.finally(() => credentials.close().finally(() => process.exit(0)));
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
