/**
 * What a rollback waits for before it deletes the new key, when consumers are down. Promise 1 is about a
 * consumer left holding a dead key: one that reports the new key, or did in this run, keeps it alive; one
 * that does not answer and was never seen on it (down, or cut off, the whole time the stores held it) cannot
 * be holding it, so it neither holds the rollback up nor keeps the new key alive. It reads the old key from
 * its store when it comes back.
 *
 * - an emergency (--revoke-immediately, which a down consumer does not stop) whose second store write fails:
 *   rolled back (exit 3) at once, the new key deleted, the down consumer named, and the result says the old
 *   (leaked) key is still live and what to run again;
 * - a consumer that converged on the new key and then went down: `rollback` keeps the new key (exit 7); once
 *   it answers again on the old key, `resume` finishes the rollback and deletes it.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../harness/servers.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { consumerFleet } from "./consumer-fleet.js";
import {
  authenticates,
  cliArgs,
  envText,
  journals,
  readStoreKey,
  runCli,
  until,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();
const fleet = consumerFleet(() => e2e.emulator.baseUrl);
e2e.onTeardown(() => fleet.stopAll());

/** A URL nothing listens on: a consumer that is down. */
async function downUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/.well-known/twilio-credential`;
}

const keySids = () => e2e.emulator.keys().map((key) => key.sid);

/** Make the second store's directory immutable once the run has begun creating its key: its write fails. */
async function failSecondStoreWrite(ws: Workspace): Promise<string> {
  const dir = join(ws.dir, "locked");
  await mkdir(dir, { mode: 0o700 });
  const file = join(dir, "app-2.env");
  await writeFile(file, envText(e2e.emulator.accountSid, ws.seeded.sid, ws.seeded.secret, "app-2"), { mode: 0o600 });
  ws.storeFiles[1] = file;
  return dir;
}

describe("a rollback with a consumer down", () => {
  it("an emergency whose store write fails does not wait for a consumer never seen on the new key", async () => {
    const ws = await e2e.workspace(2);
    const locked = await failSecondStoreWrite(ws);
    const web = await fleet.start("web", { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }, ws.env);
    await writeConfigFor(ws, {
      stores: { 1: { path: ws.storeFiles[1] } },
      consumers: [
        {
          name: "web",
          type: "http",
          url: `${web.url}/.well-known/twilio-credential`,
          reload: { url: `${web.url}/-/reload-credentials` },
        },
        { name: "down", type: "http", url: await downUrl(), timeoutSeconds: 1 },
      ],
      // Were the rollback to wait for "down", it would give up after these and keep the new key (exit 7).
      verify: { consumersTimeoutSeconds: 4, emergencyConsumersTimeoutSeconds: 3, consumersPollSeconds: 0.2 },
    });
    const filesBefore = await Promise.all(ws.storeFiles.map((file) => readFile(file)));
    const keysBefore = keySids();
    // The create waits a moment, so the directory turns immutable after preflight and before the writes.
    e2e.emulator.faults.add({
      kind: "latency",
      latencyMs: 1500,
      method: "POST",
      path: "/2010-04-01/Accounts/*/Keys.json",
      times: 1,
    });
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      const running = runCli(
        cliArgs(ws, "rotate", "--emergency", "--revoke-immediately", "--reason", "leaked in a log"),
        { env: ws.env },
      );
      await Promise.race([
        until(async () => (await journals(ws)).includes('"issue-started"'), 30_000),
        running.then((ended) => expect.fail(`rotate ended before creating its key:\n${ended.stdout}\n${ended.stderr}`)),
      ]);
      execFileSync("chattr", ["+i", locked]);
      run = await running;
    } finally {
      execFileSync("chattr", ["-i", locked]);
    }

    expect(run.code, run.stderr).toBe(3);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("rolled-back");
    expect(result.error).toContain("app-2");
    expect(result.warnings).toContainEqual(expect.stringContaining("down did not answer and never reported SK…"));
    expect(result.next).toBe(
      `the old key SK…${ws.seeded.sid.slice(-4)} is still valid and in every store: fix what failed, then run \`rotator rotate --emergency\` again`,
    );
    // All or nothing: the stores as before, no new key left alive, the old key still works.
    expect(await Promise.all(ws.storeFiles.map((file) => readFile(file)))).toEqual(filesBefore);
    expect(keySids()).toEqual(keysBefore);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    const restored = (await journals(ws)).split("\n").find((line) => line.includes('"consumers-restored"'));
    expect(JSON.parse(restored!)).toMatchObject({ converged: false, laggards: [], unreachable: ["down"] });
  });

  it("a consumer seen on the new key that then goes down keeps it alive; resume deletes it once it is back", async () => {
    const ws = await e2e.workspace(1);
    const store = { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] };
    const switched = await fleet.start("switched", store, ws.env);
    // Reads its store once and never again (no reload hook, an hour's cache): it stays on the old key.
    const stuck = await fleet.start("stuck", store, ws.env, { noReload: true, ttlSeconds: 3600 });
    const proxy = await startTcpProxy(Number(new URL(switched.url).port));
    e2e.onTeardown(() => proxy.close());
    await writeConfigFor(ws, {
      consumers: [
        {
          name: "switched",
          type: "http",
          url: `${proxy.url}/.well-known/twilio-credential`,
          reload: { url: `${proxy.url}/-/reload-credentials` },
          timeoutSeconds: 1,
        },
        { name: "stuck", type: "http", url: `${stuck.url}/.well-known/twilio-credential` },
      ],
      verify: { consumersTimeoutSeconds: 2, consumersPollSeconds: 0.2 },
    });
    const awaiting = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(awaiting.code, awaiting.stderr).toBe(4);
    const newKey = await readStoreKey(ws.storeFiles[0]!);
    expect(newKey.sid).not.toBe(ws.seeded.sid);

    await proxy.cut();
    const kept = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
    expect(kept.code, kept.stderr).toBe(7);
    expect(JSON.parse(kept.stdout).error).toContain("switched still use(s) the new key, so it was not deleted");
    expect(await readStoreKey(ws.storeFiles[0]!)).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(true);

    // Back, it re-reads its store on the reload hook: the old key again. Now nothing can hold the new one.
    await proxy.restore();
    const finished = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(finished.code, finished.stderr).toBe(3);
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});
