/**
 * `rotator watch` end to end (issue #11): the real CLI watching two dotenv stores and an app built on the
 * consumer library, with a local webhook receiver. A key deleted behind rotator's back is reported by the
 * first check after it (within one interval), naming the account and store with masked ids; the recovery
 * after the next rotation is reported once; the metrics endpoint is scraped and parsed. Every payload is
 * scanned for secrets with the rest of the output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TwilioCredentials } from "../../src/consumer/index.js";
import {
  adminClient,
  cliArgs,
  REMOVE,
  readStoreKey,
  root,
  runCli,
  runJson,
  transcript,
  until,
  useE2e,
  writeConfigFor,
} from "./harness.js";
import { type Receiver, startReceiver, validSignature } from "./notify-receiver.js";

const e2e = useE2e();
const HOOK_SECRET = "whsec-0123456789abcdef0123456789abcdef";
let receiver: Receiver;
const closers: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** An app on the consumer library: reads store 1, calls Twilio in a loop, serves the status and reload URLs. */
async function startApp(storeFile: string): Promise<{ url: string; credentials: TwilioCredentials }> {
  const credentials = new TwilioCredentials({
    store: { name: "app", type: "dotenv-file", path: storeFile },
    ttlSeconds: 1,
    twilioBaseUrl: e2e.emulator.baseUrl,
  });
  await credentials.current();
  const status = credentials.statusHandler();
  const reload = credentials.reloadHandler();
  const server: Server = createServer((req, res) => (req.method === "POST" ? reload(req, res) : status(req, res)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await credentials
        .withClient(async (client) => client.api.v2010.accounts(e2e.emulator.accountSid).messages.list({ limit: 1 }))
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  closers.push(async () => {
    stopped = true;
    await loop;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await credentials.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials };
}

/** Spawn a long-running CLI command, collecting stdout lines and stderr as they come. */
function spawnCli(args: string[], env: Record<string, string | undefined>) {
  const child: ChildProcess = spawn(process.execPath, [join(root, "bin", "rotator.js"), ...args], {
    cwd: root,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (chunk) => {
    out.stdout += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    out.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  closers.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return {
    child,
    out,
    exited: exited.then((code) => {
      transcript.push(out.stdout, out.stderr);
      return code;
    }),
    checks: () =>
      out.stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { check: number; healthy: boolean; problems: string[]; notified?: string }),
  };
}

/** Prometheus text format to { "name{labels}": value }. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match === null) throw new Error(`not Prometheus text format: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

describe("rotator watch", () => {
  it("a key deleted behind rotator's back: the webhook hears within one check, then once on recovery; metrics scraped", async () => {
    receiver = await startReceiver();
    closers.push(() => receiver.close());
    const ws = await e2e.workspace(2);
    const app = await startApp(ws.storeFiles[0]!);
    await writeConfigFor(ws, {
      consumers: [{ name: "app", type: "http", url: `${app.url}/status`, reload: { url: `${app.url}/reload` } }],
      verify: { consumersTimeoutSeconds: 20, consumersPollSeconds: 0.2 },
      notify: [{ type: "webhook", url: `${receiver.url}/hook`, secret: { env: "HOOK_SECRET" } }],
    });
    const env = { ...ws.env, HOOK_SECRET };
    ws.secrets.push(HOOK_SECRET);
    const watch = spawnCli(cliArgs(ws, "watch", "--interval", "1s", "--metrics-port", "0"), env);

    await until(async () => watch.checks().some((c) => c.healthy), 20_000);
    const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(watch.out.stderr)?.[1]);
    const healthy = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const account = `AC…${ws.twilio.accountSid.slice(-4)}`;
    const seeded = `SK…${ws.seeded.sid.slice(-4)}`;
    expect(healthy.get(`rotator_store_authenticated{account="${account}",store="app-1"}`)).toBe(1);
    expect(healthy.get(`rotator_store_authenticated{account="${account}",store="app-2"}`)).toBe(1);
    expect(healthy.get(`rotator_consumer_converged{consumer="app"}`)).toBe(1);
    expect(healthy.get(`rotator_consumer_authenticated{consumer="app"}`)).toBe(1);
    expect(
      healthy.get(`rotator_credential_age_seconds{account="${account}",credential="${seeded}"}`),
    ).toBeGreaterThanOrEqual(0);
    expect(
      healthy.get(`rotator_credential_due_in_seconds{account="${account}",credential="${seeded}"}`),
    ).toBeGreaterThan(89 * 86_400);
    expect(healthy.get(`rotator_watch_healthy{account="${account}"}`)).toBe(1);
    expect(receiver.received).toEqual([]);

    // Behind rotator's back: the key every store holds is deleted.
    const lastBefore = Math.max(...watch.checks().map((c) => c.check));
    await adminClient(e2e.emulator).api.v2010.accounts(ws.twilio.accountSid).keys(ws.seeded.sid).remove();
    await until(async () => receiver.events("/hook").includes("watch-failure"), 20_000);
    const failure = receiver.received.find((r) => r.json.event === "watch-failure")!;
    // The check in progress when the key went may have passed already; the one after it alerted.
    const alerted = failure.json.details.check as number;
    expect(alerted).toBeLessThanOrEqual(lastBefore + 2);
    // The check's own line follows its notification.
    await until(async () => watch.checks().some((c) => !c.healthy), 20_000);
    expect(watch.checks().find((c) => !c.healthy)).toMatchObject({ check: alerted, notified: "watch-failure" });
    expect(validSignature(failure, HOOK_SECRET)).toBe(true);
    expect(failure.json.account).toBe(account);
    expect(failure.json.summary).toContain(`store "app-1": ${seeded} of account ${account} is refused by Twilio`);
    expect(failure.json.details.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`store "app-2": ${seeded} of account ${account} is refused by Twilio`),
      ]),
    );
    expect(failure.body).not.toContain(ws.seeded.sid);
    expect(failure.body).not.toContain(ws.twilio.accountSid);

    const failing = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    expect(failing.get(`rotator_store_authenticated{account="${account}",store="app-1"}`)).toBe(0);
    expect(failing.get(`rotator_watch_healthy{account="${account}"}`)).toBe(0);
    expect(failing.get('rotator_watch_checks_total{result="failing"}')).toBeGreaterThanOrEqual(1);
    // The 20003s the checks found, what the "rising" alert of monitoring/ watches: none while healthy.
    expect(healthy.get(`rotator_authentication_failures_total{account="${account}",source="store",name="app-1"}`)).toBe(
      undefined,
    );
    expect(
      failing.get(`rotator_authentication_failures_total{account="${account}",source="store",name="app-1"}`),
    ).toBeGreaterThanOrEqual(1);

    // Still failing: no second alert. Then the next rotation (an emergency one: the key is dead) recovers.
    await until(async () => watch.checks().filter((c) => !c.healthy).length >= 2, 20_000);
    expect(receiver.events("/hook").filter((e) => e === "watch-failure")).toHaveLength(1);
    const rotate = await runJson(cliArgs(ws, "rotate", "--emergency", "--yes"), { env });
    expect(rotate.run.code, rotate.run.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    await until(async () => receiver.events("/hook").includes("watch-recovered"), 20_000);
    const recovered = receiver.received.find((r) => r.json.event === "watch-recovered")!;
    expect(recovered.json.summary).toContain("every store's credential authenticates");
    // The rotation's own "completed" and watch's "watch-recovered" come from two processes: either may land
    // first. What matters: one failure first, then exactly one of each.
    const heard = receiver.events("/hook");
    expect(heard[0]).toBe("watch-failure");
    expect([...heard.slice(1)].sort()).toEqual(["completed", "watch-recovered"]);
    const completed = receiver.received.find((r) => r.json.event === "completed")!;
    expect(completed.json.details).toMatchObject({
      command: "rotate",
      status: "completed",
      runId: rotate.result.runId,
    });

    // The check that heard the recovery may have read the journal just before the rotation recorded its end
    // (the stores held the new key already): the next check, one interval later, reports the completed run.
    const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    await until(
      async () => (await scrape()).get(`rotator_last_rotation_status{account="${account}",status="completed"}`) === 1,
      10_000,
    );
    const after = await scrape();
    expect(after.get(`rotator_last_rotation_status{account="${account}",status="completed"}`)).toBe(1);
    expect(after.get(`rotator_last_rotation_timestamp_seconds{account="${account}"}`)).toBeGreaterThan(0);
    expect(after.get(`rotator_watch_healthy{account="${account}"}`)).toBe(1);

    watch.child.kill("SIGTERM");
    expect(await watch.exited).toBe(0);
    expect(watch.out.stderr).toContain("SIGTERM: stopping after the check in progress");
  });

  it("--once: exit 0 when healthy, 2 on a failure, and one alert per outage across runs", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, { notify: [{ type: "webhook", url: `${receiver.url}/once` }] });
    const ok = await runCli(cliArgs(ws, "watch", "--once"), { env: ws.env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ command: "watch", check: 1, healthy: true });
    await adminClient(e2e.emulator).api.v2010.accounts(ws.twilio.accountSid).keys(ws.seeded.sid).remove();
    const first = await runCli(cliArgs(ws, "watch", "--once"), { env: ws.env });
    expect(first.code).toBe(2);
    expect(JSON.parse(first.stdout)).toMatchObject({ healthy: false, notified: "watch-failure" });
    const second = await runCli(cliArgs(ws, "watch", "--once"), { env: ws.env });
    expect(second.code).toBe(2);
    expect(JSON.parse(second.stdout).notified).toBeUndefined();
    expect(receiver.events("/once")).toEqual(["watch-failure"]);
  });

  it("an auth-token config: --once passes, and fails once the token is replaced behind rotator's back", async () => {
    const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "watch-token-" });
    const ws = await e2e.workspace(1);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(ws.storeFiles[0]!, `TWILIO_ACCOUNT_SID=${sub!.sid}\nTWILIO_AUTH_TOKEN=${sub!.authToken}\n`, {
      mode: 0o600,
    });
    await writeConfigFor(ws, {
      twilio: { accountSid: sub!.sid, admin: { authToken: { env: "SUB_TOKEN" } } },
      credential: { type: "auth-token", friendlyNamePrefix: REMOVE },
    });
    const env = { ...ws.env, SUB_TOKEN: sub!.authToken };
    const ok = await runCli(cliArgs(ws, "watch", "--once"), { env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).stores).toEqual([expect.objectContaining({ name: "app-1", state: "authenticated" })]);
    ws.secrets.push(e2e.emulator.rotatePrimaryToken(sub!.sid));
    const failed = await runCli(cliArgs(ws, "watch", "--once"), { env });
    expect(failed.code).toBe(2);
    expect(JSON.parse(failed.stdout).problems[0]).toMatch(
      /^store "app-1": [0-9a-f]{2}…[0-9a-f]{4} of account AC…\w{4} is refused by Twilio/,
    );
  });
});
