/**
 * Safety cases found by an adversarial review, now fixed: a retried key create leaves no orphan key; a
 * rollback brings consumers back to the old key before deleting the new one (and keeps it when one cannot
 * come back); a bad --state-dir is bad input. Drives the real CLI against the in-process Twilio emulator.
 */

import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { authenticates, cliArgs, journalRecords, readStoreKey, runCli, useE2e } from "./harness.js";

const servers: Server[] = [];

const e2e = useE2e();
const workspace = (stores?: number) => e2e.workspace(stores);
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

const keySids = () => e2e.emulator.keys().map((k) => k.sid);

describe("a lost response to the key-create call", () => {
  it("a completed rotation leaves no extra live key behind (the retried create's orphan)", async () => {
    const ws = await workspace();
    // A proxy in front of the emulator: the first POST .../Keys.json reaches Twilio (the key is created), but
    // the answer is lost (connection reset), as after a network blip. The issuer retries and creates a second key.
    let dropped = false;
    const proxy = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const target = new URL(req.url ?? "/", e2e.emulator.baseUrl);
        const upstream = request(
          target,
          { method: req.method, headers: { ...req.headers, host: target.host } },
          (answer) => {
            const body: Buffer[] = [];
            answer.on("data", (c) => body.push(c));
            answer.on("end", () => {
              if (!dropped && req.method === "POST" && /\/Keys\.json$/.test(target.pathname)) {
                dropped = true;
                req.socket.destroy();
                return;
              }
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(body));
            });
          },
        );
        upstream.end(Buffer.concat(chunks));
      });
    });
    const config = (await readFile(ws.configPath, "utf8")).replace(
      `baseUrl: ${e2e.emulator.baseUrl}`,
      `baseUrl: ${proxy}`,
    );
    await writeFile(ws.configPath, config);

    const before = keySids();
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(dropped).toBe(true);
    expect(run.code, run.stderr).toBe(0);
    const { sid } = await readStoreKey(ws.storeFiles[0]!);
    const added = keySids().filter((k) => !before.includes(k));
    // Exactly the new key is added: the orphan of the retried create (a live credential whose secret nobody
    // holds) is found by the run's name and deleted.
    expect(added).toEqual([sid]);
  });
});

describe("rollback of a run awaiting consumers", () => {
  it("does not delete the new key while a consumer that already switched to it still uses it", async () => {
    const ws = await workspace();
    // Consumer "fast" re-reads store app-1 on its reload hook; consumer "slow" never switches.
    let fast = { sid: ws.seeded.sid, secret: ws.seeded.secret };
    let fastReloads = 0;
    const fastUrl = await listen(async (req, res) => {
      if (req.method === "POST") {
        fastReloads += 1;
        const held = await readStoreKey(ws.storeFiles[0]!);
        fast = { sid: held.sid!, secret: held.secret! };
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keySid: fast.sid, authenticated: true }));
    });
    const slowUrl = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keySid: ws.seeded.sid, authenticated: true }));
    });
    await ws.writeConfig(
      `consumers:\n  - { name: fast, type: http, url: ${fastUrl}/status, reload: { url: ${fastUrl}/reload } }\n  - { name: slow, type: http, url: ${slowUrl}/status }\n`,
    );
    const cfg = (await readFile(ws.configPath, "utf8")).replace(
      "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
      "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 }",
    );
    await writeFile(ws.configPath, cfg);

    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(4);
    const result = JSON.parse(run.stdout);
    expect(result.consumers.find((c: { name: string }) => c.name === "fast").state).toBe("converged");
    expect(fast.sid).not.toBe(ws.seeded.sid); // fast now uses the new key

    const rolledBack = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.code, rolledBack.stderr).toBe(0); // an operator's rollback that succeeds (issue #7)
    // Promise 1: the rollback reloads "fast", waits until it reports the old key again, and only then
    // deletes the new key, so "fast" is left holding a working credential.
    expect(fastReloads).toBe(2);
    expect(fast.sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, fast.sid, fast.secret)).toBe(true);
    expect(
      (await journalRecords(ws)).filter((record) => record.event === "consumers-restored" && record.converged === true),
    ).toHaveLength(1);
  });

  it("keeps the new key when a consumer that switched to it cannot be brought back, until resume sees it back", async () => {
    const ws = await workspace();
    // "pinned" switches on the rotate's reload, then ignores further reloads until the test lets it go.
    let pinned = { sid: ws.seeded.sid, secret: ws.seeded.secret };
    let frozen = false;
    const pinnedUrl = await listen(async (req, res) => {
      if (req.method === "POST") {
        if (!frozen) {
          const held = await readStoreKey(ws.storeFiles[0]!);
          pinned = { sid: held.sid!, secret: held.secret! };
          frozen = true;
        }
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keySid: pinned.sid, authenticated: true }));
    });
    const slowUrl = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keySid: ws.seeded.sid, authenticated: true }));
    });
    await ws.writeConfig(
      `consumers:\n  - { name: pinned, type: http, url: ${pinnedUrl}/status, reload: { url: ${pinnedUrl}/reload } }\n  - { name: slow, type: http, url: ${slowUrl}/status }\n`,
    );
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 }",
      ),
    );
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    const newKey = { ...pinned };
    expect(newKey.sid).not.toBe(ws.seeded.sid);

    const rolledBack = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.code, rolledBack.stderr).toBe(7);
    const result = JSON.parse(rolledBack.stdout);
    expect(result.error).toContain("pinned");
    expect(result.next).toContain("rotator resume");
    expect(await authenticates(e2e.emulator, newKey.sid, newKey.secret)).toBe(true);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);

    pinned = { sid: ws.seeded.sid, secret: ws.seeded.secret };
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(3);
    expect(JSON.parse(resumed.stdout).status).toBe("rolled-back");
    expect(await authenticates(e2e.emulator, newKey.sid, newKey.secret)).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});

describe("bad --state-dir", () => {
  it("a --state-dir that cannot be created is bad input (exit 2) with a clear message, not an internal error", async () => {
    const ws = await workspace(1);
    const notADir = join(ws.dir, "app-1.env");
    const run = await runCli(["rotate", "--config", ws.configPath, "--state-dir", join(notADir, "state"), "--json"], {
      env: ws.env,
    });
    const result = JSON.parse(run.stdout);
    expect({ code: run.code, error: result.error }).toEqual({ code: 2, error: expect.stringMatching(/state/) });
    expect(result.error).not.toMatch(/^ENOTDIR/);
  });
});
