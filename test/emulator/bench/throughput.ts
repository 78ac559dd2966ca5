/**
 * How many requests a second the emulator serves in-process (client and emulator share one event loop,
 * as in the tests). Not a test: run `npx tsx test/emulator/bench/throughput.ts [seconds] [concurrency]`.
 *
 * Three loads over a fleet of 1,000 subaccounts, each subaccount calling with its own credentials:
 * raw keep-alive HTTP on the cheap key check (Messages list with a Standard key), the same with auth
 * tokens on Account fetch, and the official `twilio` client through src/twilio/client.ts (a new
 * connection per request, as rotator makes them). Each line prints requests/s and the status counts.
 * A trivial node:http server under the same load comes first, as the machine's ceiling at that moment.
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { startTwilioEmulator } from "../../../src/emulator/index.js";
import { createTwilioClient } from "../../../src/twilio/client.js";

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 32);

const trivial = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 }).end("{}"));
});
await new Promise<void>((resolve) => trivial.listen(0, "127.0.0.1", resolve));
const emulator = await startTwilioEmulator({ subaccountLimit: 1000 });
const fleet = emulator.createSubaccounts(1000, { friendlyNamePrefix: "bench-" });
const keys = fleet.map((sub) => ({ sub, key: emulator.createMainKey(sub.sid) }));
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const origin = new URL(emulator.baseUrl);

function get(path: string, user: string, password: string, port = origin.port): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: origin.hostname,
        port,
        path,
        agent,
        headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function load(name: string, one: (i: number) => Promise<unknown>): Promise<void> {
  emulator.resetStats();
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async (w: number) => {
    for (let i = w; performance.now() < deadline; i += concurrency) {
      await one(i);
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  const stats = emulator.stats();
  console.log(
    `${name.padEnd(44)} ${(done / elapsed).toFixed(0).padStart(6)} req/s  ${JSON.stringify(stats.responses)}`,
  );
}

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

const trivialPort = String((trivial.address() as AddressInfo).port);
await load("trivial node:http server (the ceiling)", () => get("/", "x", "y", trivialPort));
trivial.close();
await load("raw HTTP, Messages list, Main key per sub", (i) => {
  const { sub, key } = pick(keys, i);
  return get(`/2010-04-01/Accounts/${sub.sid}/Messages.json?PageSize=1`, key.sid, key.secret);
});
await load("raw HTTP, Account fetch, auth token per sub", (i) => {
  const sub = pick(fleet, i);
  return get(`/2010-04-01/Accounts/${sub.sid}.json`, sub.sid, sub.authToken);
});
const clients = fleet
  .slice(0, 50)
  .map((sub) =>
    createTwilioClient({ accountSid: sub.sid, username: sub.sid, password: sub.authToken, baseUrl: emulator.baseUrl }),
  );
await load("official client, Account fetch (new connection)", (i) => {
  const c = pick(clients, i);
  return c.api.v2010.accounts(c.accountSid).fetch();
});

agent.destroy();
await emulator.close();
