/**
 * examples/local: the one command brings up all four kinds of store (the dotenv file, OpenBao, moto and the Key
 * Vault emulator, with the servers' installs this test set-up already makes) and three apps on the consumer
 * library, and writes a config and an environment with which `rotator rotate --if-due` rotates the 91-day-old
 * key: every store written, every app switched, the old key refused, not one 20003 in the apps. Ctrl-C (SIGTERM)
 * then stops everything it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureInstalled } from "../harness/servers.js";
import { readStoreKey, root, runCli, transcript, useE2e, type Workspace } from "./harness.js";

const e2e = useE2e();
let up: ChildProcess | undefined;
let ws: Workspace;

interface Ready {
  dir: string;
  config: string;
  env: Record<string, string>;
  stores: string[];
  apps: Array<{ name: string; store: string; url: string }>;
  skipped: Array<{ store: string; needs: string }>;
}

beforeAll(async () => {
  // moto and OpenBao from the servers' cache, where up.mjs looks for them when they are not on PATH.
  await ensureInstalled(["aws", "vault"]);
  ws = await e2e.workspace(1);
});

afterAll(() => {
  // up.mjs and what it started are a process group of their own: nothing outlives the file.
  if (up?.pid !== undefined && up.exitCode === null) process.kill(-up.pid, "SIGKILL");
});

describe("examples/local/up.mjs", () => {
  it("brings up four stores and three apps with one command; rotate --if-due rotates the aged key there", async () => {
    const dir = join(ws.dir, "local");
    up = spawn(process.execPath, [join(root, "examples/local/up.mjs"), "--dir", dir], {
      detached: true,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    up.stderr!.on("data", (chunk) => {
      stderr += chunk;
    });
    const [line] = (await Promise.race([
      once(createInterface({ input: up.stdout! }), "line"),
      once(up, "exit").then(([code]) => expect.fail(`up.mjs exited ${code}:\n${stderr}`)),
    ])) as [string];
    const ready = JSON.parse(line) as Ready;
    for (const value of Object.values(ready.env)) if (/^[0-9a-f]{32}$|~/.test(value)) e2e.issuedSecrets.add(value);
    expect(ready.skipped).toEqual([]);
    expect(ready.stores).toEqual(["app", "vault", "aws", "azure"]);
    expect(ready.apps.map((app) => `${app.name}:${app.store}`)).toEqual(["web-1:app", "web-2:vault", "worker-1:azure"]);
    const env = { ...process.env, ...ready.env, NO_COLOR: "1" };
    // The config and the environment are all rotator needs: no --config, no --state-dir.
    const before = await readStoreKey(join(dir, "app.env"));
    ws.secrets.push(before.secret!);

    const status = await runCli(["status", "--json"], { env, cwd: ws.dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ ageDays: 91, due: true });
    const rotated = await runCli(["rotate", "--if-due", "--yes", "--json"], { env, cwd: ws.dir });
    expect(rotated.code, rotated.stderr).toBe(0);
    const result = JSON.parse(rotated.stdout);
    expect(result.status).toBe("completed");
    expect(result.stores.map((store: { name: string; outcome: string }) => `${store.name}:${store.outcome}`)).toEqual([
      "app:written",
      "vault:written",
      "aws:written",
      "azure:written",
    ]);
    expect(result.consumers.map((consumer: { state: string }) => consumer.state)).toEqual([
      "converged",
      "converged",
      "converged",
    ]);
    const after = await readStoreKey(join(dir, "app.env"));
    ws.secrets.push(after.secret!);
    expect(after.sid).not.toBe(before.sid);
    for (const app of ready.apps) {
      const stats = (await (await fetch(`${app.url}/stats`)).json()) as { requests: number; refused: number };
      expect(stats.requests, app.name).toBeGreaterThan(0);
      expect(stats.refused, app.name).toBe(0);
    }
    expect(JSON.parse(await readFile(join(dir, "ready.json"), "utf8"))).toEqual(ready);

    up.kill("SIGTERM");
    const [code] = await once(up, "exit");
    expect(code).toBe(0);
    transcript.push(stderr);
    expect(stderr).toContain(`source ${join(dir, "env.sh")}`);
    // Everything it started is gone: the apps no longer answer.
    for (const app of ready.apps) await expect(fetch(`${app.url}/stats`)).rejects.toThrow();
  });
});
