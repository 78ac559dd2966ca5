/**
 * The run lock: one run at a time per store, and every decision taken under the locks. A second rotate while the
 * first holds them exits 5 naming the holder; a rollback or resume decides from the journal only once it holds
 * the locks; and a crash during preflight, after rotate took its locks but before the run's journal exists, leaves
 * locks that rotate refuses (exit 5, pointing at `rotator resume`), which finds nothing to finish, removes the
 * stale locks (saying so), and the next rotate runs.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configVariants } from "./config-variants.js";
import { authenticates, cliArgs, readStoreKey, root, runCli, until, useE2e } from "./harness.js";

const e2e = useE2e();
const { withSlowConsumer } = configVariants(e2e);
const workspace = (stores?: number) => e2e.workspace(stores);

/** Keys in the account other than ones a test seeded for itself and still expects. */
function accountKeySids(): string[] {
  return e2e.emulator.keys().map((k) => k.sid);
}

describe("two runs at once", () => {
  it("two rotate runs at once on one config: one rotates, the other exits 5 naming the lock holder", async () => {
    const ws = await workspace();
    const keysBefore = accountKeySids();
    // The first run is held right after taking its locks (a pause point, not a delay: a loaded machine may
    // take longer than any delay to start the second process), until the second has tried.
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const first = runCli(cliArgs(ws, "rotate"), {
      env: { ...ws.env, ROTATOR_PAUSE: "after-lock:rotate", ROTATOR_PAUSE_FILE: pause },
    });
    await until(async () => existsSync(`${pause}.reached`), 30_000);
    const second = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    await rm(pause);
    expect(second.code, second.stderr).toBe(5);
    const refused = JSON.parse(second.stdout);
    expect(refused.error).toContain("another rotator run holds the lock");
    expect(refused.error).toMatch(/run \d{8}T\d{6}Z-[0-9a-f]{6} \(rotate, pid \d+/);
    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    const [a] = await Promise.all(ws.storeFiles.map(readStoreKey));
    ws.secrets.push(a!.secret!);
    expect(accountKeySids().filter((sid) => !keysBefore.includes(sid))).toEqual([a!.sid]);
    expect(accountKeySids()).not.toContain(ws.seeded.sid);
  });
});

describe("every journal decision is taken under the locks", () => {
  it("a rollback that read the journal before resume finished does not restore a revoked key", async () => {
    const ws = await e2e.workspace(2);
    const ready = await withSlowConsumer(ws);
    const rotated = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.code, rotated.stderr).toBe(4);
    const newKey = await readStoreKey(ws.storeFiles[0]!);
    ws.secrets.push(newKey.secret!);

    // rollback starts, reads the journal (awaiting consumers: it could roll back) and is held before its locks.
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const rollback = runCli(cliArgs(ws, "rollback"), {
      env: { ...ws.env, ROTATOR_PAUSE: "before-lock:rollback", ROTATOR_PAUSE_FILE: pause },
    });
    await until(async () => existsSync(`${pause}.reached`));

    // Meanwhile the consumers converge and resume finishes the run: the old key is revoked.
    await writeFile(ready, "");
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);

    // The rollback goes on: under the locks it reads the journal again and finds nothing left to undo.
    await rm(pause);
    const rolledBack = await rollback;
    expect(rolledBack.code, rolledBack.stderr).toBe(2);
    expect(JSON.parse(rolledBack.stdout).error).toMatch(/no unfinished run/);
    for (const file of ws.storeFiles) expect(await readStoreKey(file)).toEqual(newKey);
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(true);
  });

  it("a resume that arrives while a rollback holds the locks waits its turn (exit 5) and changes nothing", async () => {
    const ws = await e2e.workspace(2);
    await withSlowConsumer(ws);
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const rollback = runCli(cliArgs(ws, "rollback"), {
      env: { ...ws.env, ROTATOR_PAUSE: "after-lock:rollback", ROTATOR_PAUSE_FILE: pause },
    });
    await until(async () => existsSync(`${pause}.reached`));
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(5);
    expect(JSON.parse(resumed.stdout).error).toMatch(/holds the lock .* \(rollback, pid/);
    await rm(pause);
    const rolledBack = await rollback;
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    for (const file of ws.storeFiles) expect((await readStoreKey(file)).sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});

describe("crash during preflight", () => {
  it("after kill -9 during preflight, resume clears the way and the next rotate runs", async () => {
    const ws = await e2e.workspace(2);
    // A consumer check that takes a while, so preflight is still running when the process dies.
    const slow = join(ws.dir, "slow-check.sh");
    await writeFile(slow, "#!/bin/sh\nsleep 3\nexit 0\n", { mode: 0o755 });
    await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${slow}] }\n`);

    const child = spawn(process.execPath, [join(root, "bin", "rotator.js"), ...cliArgs(ws, "rotate")], {
      env: ws.env as NodeJS.ProcessEnv,
      stdio: "ignore",
    });
    const locks = join(ws.stateDir, "locks");
    const deadline = Date.now() + 10_000;
    while (!(existsSync(locks) && readdirSync(locks).length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));

    const blocked = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(blocked.code).toBe(5);
    expect(JSON.parse(blocked.stdout).hint).toContain("rotator resume");

    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code).toBe(0);
    const cleared = JSON.parse(resumed.stdout);
    expect(cleared.status).toBe("nothing-to-resume");
    expect(cleared.warnings).toHaveLength(2);
    expect(cleared.warnings[0]).toMatch(
      /^removed the stale lock of store app-\d left by run .* which stopped before changing anything$/,
    );
    const again = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(again.code, `${JSON.parse(resumed.stdout).status} / ${JSON.parse(again.stdout).error}`).toBe(0);
  });
});
