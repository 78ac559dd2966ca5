/**
 * Webhooks rejected during an Auth Token rotation (issue #19), printed side by side from one run:
 *
 * - rotator: `rotate` (the engine, in-process) over three dotenv stores, one per app, the apps its consumers;
 * - promote-first, as AWS Secrets Manager's managed Twilio rotation does it: create the secondary token,
 *   promote it, then write it to the stores and reload the apps (the best case for it: at once, every app).
 *
 * The same three apps each time (processes on the consumer library, test/fixtures/consumer-app.ts, validating
 * webhooks with `credentials.webhookValidator()` and calling Twilio every 50 ms), each sent an inbound message
 * every 20 ms by the Twilio emulator, which signs with the old token for LAG_MS after a promote (Twilio's
 * propagation). Traffic runs from before the rotation until Twilio signs with the new token; the counts are
 * the emulator's (what the apps answered) and the apps' own 20003s.
 *
 * Run: npm run bench -- webhooks (no outside servers: dotenv stores, the in-process emulator).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tokenFingerprint } from "../providers/contract.js";
import { loadConfig } from "../src/config/load.js";
import { startTwilioEmulator, type TwilioEmulator } from "../src/emulator/index.js";
import { buildContext, closeContext } from "../src/engine/context.js";
import { rotate } from "../src/engine/index.js";
import { silentReporter } from "../src/engine/reporter.js";
import { createTwilioClient } from "../src/twilio/client.js";
import { type Consumer, consumerFleet } from "../test/e2e/consumer-fleet.js";

const APPS = 3;
const WEBHOOK_INTERVAL_MS = 20;
/** How long the emulator signs with the old token after a promote. */
const LAG_MS = 2_000;
/** Webhooks each app gets before the rotation starts, and signed with the new token after it ends. */
const SETTLED = 5;

interface Outcome {
  name: string;
  sent: number;
  rejected: number;
  failed: number;
  refused: number;
  rotationMs: number;
}

interface Scenario {
  name: string;
  rotate(setup: Setup): Promise<void>;
}

interface Setup {
  emulator: TwilioEmulator;
  account: { sid: string; token: string };
  dir: string;
  stores: string[];
  apps: Consumer[];
}

const rotator: Scenario = {
  name: "rotator",
  async rotate({ emulator, account, dir, stores, apps }) {
    const configPath = join(dir, "rotator.yaml");
    await writeFile(
      configPath,
      [
        "version: 1",
        `twilio: { accountSid: ${account.sid}, admin: { authToken: { fromStore: app-1 } }, baseUrl: "${emulator.baseUrl}" }`,
        `credential: { type: auth-token, webhookSigningLagSeconds: ${LAG_MS / 1000} }`,
        "stores:",
        ...stores.map((path, i) => `  - { name: app-${i + 1}, type: dotenv-file, path: ${path} }`),
        "consumers:",
        ...apps.map((app) => app.yaml()),
        "verify: { newKeyTimeoutSeconds: 10, revokeConfirmSeconds: 5, consumersTimeoutSeconds: 30, consumersPollSeconds: 0.1 }",
        "",
      ].join("\n"),
    );
    const loaded = await loadConfig(configPath, {});
    const context = await buildContext(loaded, { stateDir: join(dir, "state"), reporter: silentReporter, env: {} });
    try {
      const result = await rotate(context);
      if (result.status !== "completed") throw new Error(`bench rotation ended ${result.status}: ${result.error}`);
    } finally {
      await closeContext(context);
    }
  },
};

const promoteFirst: Scenario = {
  name: "promote-first (AWS's managed rotation)",
  async rotate({ emulator, account, stores, apps }) {
    const twilio = createTwilioClient({
      accountSid: account.sid,
      username: account.sid,
      password: account.token,
      baseUrl: emulator.baseUrl,
    });
    const fresh = (await twilio.accounts.v1.secondaryAuthToken().create()).secondaryAuthToken;
    if (!fresh) throw new Error("no secondary token");
    await twilio.accounts.v1.authTokenPromotion().update();
    await Promise.all(stores.map((path) => writeFile(path, dotenv(account.sid, fresh), { mode: 0o600 })));
    await Promise.all(apps.map((app) => fetch(`${app.url}/-/reload-credentials`, { method: "POST" })));
  },
};

const dotenv = (sid: string, token: string) => `TWILIO_ACCOUNT_SID=${sid}\nTWILIO_AUTH_TOKEN=${token}\n`;

/** Resolves once `check` holds, polling; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function run(emulator: TwilioEmulator, scenario: Scenario): Promise<Outcome> {
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: "bench-webhooks-" });
  const account = { sid: sub!.sid, token: sub!.authToken };
  const dir = await mkdtemp(join(tmpdir(), "rotator-bench-webhooks-"));
  const fleet = consumerFleet(() => emulator.baseUrl);
  try {
    const stores: string[] = [];
    for (let i = 1; i <= APPS; i++) {
      const path = join(dir, `app-${i}.env`);
      await writeFile(path, dotenv(account.sid, account.token), { mode: 0o600 });
      stores.push(path);
    }
    const apps = await Promise.all(
      stores.map((path, i) =>
        fleet.start(`app-${i + 1}`, { name: `app-${i + 1}`, type: "dotenv-file", path }, process.env, {
          kind: "auth-token",
          webhooks: true,
          callIntervalMs: 50,
        }),
      ),
    );
    const urls = new Set(apps.map((app) => `${app.url}/webhooks/sms`));
    const numbers = apps.map((app) => app.phoneNumber!);
    const countsOf = () => emulator.webhooks.counts().byUrl.filter((c) => urls.has(c.url));
    const before = countsOf();
    const baseline = (url: string, field: "sent" | "rejected" | "failed") =>
      before.find((c) => c.url === url)?.[field] ?? 0;

    const traffic = emulator.webhooks.startTraffic({ intervalMs: WEBHOOK_INTERVAL_MS, numbers });
    await until("webhooks before the rotation", () => {
      const counts = countsOf();
      return counts.length === APPS && counts.every((c) => c.sent - baseline(c.url, "sent") >= SETTLED);
    });
    const started = performance.now();
    await scenario.rotate({ emulator, account, dir, stores, apps });
    const rotationMs = performance.now() - started;
    // Until Twilio signs with the new token: the lag after the promote is part of what is measured.
    const promoted = emulator.snapshot().accounts.find((a) => a.sid === account.sid)!.authToken.fingerprint;
    const mark = emulator.webhooks.lastSentId();
    await until("webhooks signed with the new token", () => {
      const signed = emulator.webhooks.deliveries(mark).filter((d) => d.signedWith === promoted);
      return [...urls].every((url) => signed.filter((d) => d.url === url).length >= SETTLED);
    });
    emulator.webhooks.stopTraffic(traffic.id);
    await emulator.webhooks.idle();

    const counts = countsOf();
    const total = (field: "sent" | "rejected" | "failed") =>
      counts.reduce((n, c) => n + c[field] - baseline(c.url, field), 0);
    const stats = await Promise.all(apps.map((app) => app.stats()));
    // A way that left the stores on another token than Twilio's primary would not be a rotation at all.
    if (!promoted.endsWith(tokenFingerprint(await currentToken(dir)))) throw new Error("stores lag behind Twilio");
    return {
      name: scenario.name,
      sent: total("sent"),
      rejected: total("rejected"),
      failed: total("failed"),
      refused: stats.reduce((n, s) => n + s.unauthorized, 0),
      rotationMs,
    };
  } finally {
    await fleet.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The token app-1's store holds now. */
async function currentToken(dir: string): Promise<string> {
  return /^TWILIO_AUTH_TOKEN=(.*)$/m.exec(await readFile(join(dir, "app-1.env"), "utf8"))?.[1] ?? "";
}

/** Lines to print: each way's webhooks sent, rejected, unanswered, and 20003s, side by side. */
export async function webhooksBench(): Promise<string[]> {
  const emulator = await startTwilioEmulator({ port: 0, signingLagMs: LAG_MS });
  try {
    const outcomes: Outcome[] = [];
    for (const scenario of [rotator, promoteFirst]) outcomes.push(await run(emulator, scenario));
    const width = Math.max(...outcomes.map((o) => o.name.length));
    const cell = (value: string | number, size: number) => String(value).padStart(size);
    return [
      `webhooks during an Auth Token rotation (${APPS} apps on rotator/consumer, a signed webhook to each every ${WEBHOOK_INTERVAL_MS} ms, Twilio signing with the old token for ${LAG_MS / 1000} s after the promote; one run):`,
      `  ${"".padEnd(width)}  ${cell("sent", 6)}  ${cell("rejected", 8)}  ${cell("share", 7)}  ${cell("unanswered", 10)}  ${cell("20003s", 6)}  ${cell("rotation", 9)}`,
      ...outcomes.map(
        (o) =>
          `  ${o.name.padEnd(width)}  ${cell(o.sent, 6)}  ${cell(o.rejected, 8)}  ${cell(`${((100 * o.rejected) / Math.max(o.sent, 1)).toFixed(1)}%`, 7)}  ${cell(o.failed, 10)}  ${cell(o.refused, 6)}  ${cell(`${(o.rotationMs / 1000).toFixed(1)} s`, 9)}`,
      ),
    ];
  } finally {
    await emulator.close();
  }
}
