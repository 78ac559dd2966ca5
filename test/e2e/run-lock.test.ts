/**
 * The run lock: one run at a time per store, and every decision taken under the locks. A second rotate while the
 * first holds them exits 5 naming the holder; a rollback or resume decides from the journal only once it holds
 * the locks; and a crash during preflight, after rotate took its locks but before the run's journal exists, leaves
 * locks that rotate refuses (exit 5, pointing at `rotator resume`), which finds nothing to finish, removes the
 * stale locks (saying so), and the next rotate runs.
 *
 * Locks and the unfinished-run check go by store, not by config: config X (stores app-1, app-2) ends awaiting
 * consumers; config Y (app-1 only, same state dir) must not rotate app-1 meanwhile, or it would revoke the key X
 * put into app-2. Y's rotate exits 6 naming X's run and config file, Y's resume, rollback, plan and status say the
 * same, and X's resume still completes.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configVariants } from "./config-variants.js";
import { ADMIN_VARIABLE, authenticates, cliArgs, readStoreKey, root, runCli, until, useE2e } from "./harness.js";

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

describe("overlapping store sets", () => {
  it("a config naming a subset of another config's stores is refused while that config's run is unfinished", async () => {
    const ws = await e2e.workspace(2);
    // Config X: both stores, and a consumer that reports the new key only once a file exists -> awaiting consumers.
    const ready = join(ws.dir, "consumer-ready");
    const check = join(ws.dir, "check-consumer.sh");
    await writeFile(check, `#!/bin/sh\ntest -f ${ready}\n`, { mode: 0o755 });
    await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${check}] }\n`);
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.2 }",
      ),
    );
    const x = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(x.code, x.stderr).toBe(4);
    const xRun = JSON.parse(x.stdout).runId as string;
    const k1 = await readStoreKey(ws.storeFiles[1]!);
    const app1Before = await readFile(ws.storeFiles[0]!, "utf8");

    // Config Y: store app-1 only (same file), same state dir.
    const yPath = join(ws.dir, "rotator-y.yaml");
    await writeFile(
      yPath,
      `version: 1\ntwilio:\n  accountSid: ${e2e.emulator.accountSid}\n  admin: { authToken: { env: ${ADMIN_VARIABLE} } }\n  baseUrl: ${e2e.emulator.baseUrl}\ncredential: { type: api-key, friendlyNamePrefix: e2e }\nstores:\n  - { name: app-1, type: dotenv-file, path: ${ws.storeFiles[0]} }\nverify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }\n`,
    );
    const yArgs = (command: string) => [command, "--config", yPath, "--state-dir", ws.stateDir, "--json"];
    const y = await runCli(yArgs("rotate"), { env: ws.env });
    const app2StillWorks = await authenticates(e2e.emulator, k1.sid!, k1.secret!);
    expect({ code: y.code, app2StillWorks }).toEqual({ code: 6, app2StillWorks: true });
    const refused = JSON.parse(y.stdout);
    expect(refused.error).toContain(`run ${xRun}`);
    expect(refused.error).toContain(`config ${ws.configPath}`);
    expect(refused.error).toContain("app-1");
    expect(refused.hint).toContain(`rotator resume --config ${ws.configPath}`);
    // Y changed nothing: app-1 is as X left it, and no key was created for Y.
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(app1Before);
    expect(e2e.emulator.keys().filter((k) => k.friendlyName.startsWith("e2e-"))).toHaveLength(1);

    // Y's resume and rollback do not answer "nothing to resume": they name X's run and how to resume it.
    for (const command of ["resume", "rollback"]) {
      const run = await runCli(yArgs(command), { env: ws.env });
      expect(run.code, run.stderr).toBe(6);
      const result = JSON.parse(run.stdout);
      expect(result.error).toContain(`run ${xRun}`);
      expect(result.hint).toContain(`rotator ${command} --config ${ws.configPath}`);
    }
    // plan finds the same problem; status reports it.
    const plan = await runCli(yArgs("plan"), { env: ws.env });
    expect(plan.code).toBe(2);
    expect(JSON.parse(plan.stdout).problems).toContainEqual(expect.stringContaining(`run ${xRun}`));
    const status = JSON.parse((await runCli(yArgs("status"), { env: ws.env })).stdout);
    expect(status.problems).toContainEqual(expect.stringContaining(`run ${xRun}`));
    expect(status.lock).toBe("free");
    expect(status.locks).toEqual([expect.objectContaining({ store: "app-1", state: "free" })]);

    // X's run is journaled with its config file and each store's identity.
    const started = JSON.parse((await readFile(join(ws.stateDir, "runs", `${xRun}.jsonl`), "utf8")).split("\n")[0]!);
    expect(started.configFile).toBe(ws.configPath);
    expect(started.stores.map((s: { identity: string }) => s.identity)).toEqual(
      ws.storeFiles.map((file) => `dotenv-file:${file}`),
    );

    // X's consumer converges; X's own resume finishes the run: both stores hold the new key, the old one is revoked.
    await writeFile(ready, "");
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).status).toBe("completed");
    const [app1, app2] = await Promise.all(ws.storeFiles.map(readStoreKey));
    expect(app1!.sid).toBe(app2!.sid);
    expect(app1!.sid).not.toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, app2!.sid!, app2!.secret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);

    // With X finished, no unfinished run stands in Y's way, but X's store app-2 (outside Y) holds the key Y
    // would revoke: Y is refused (issue #8: shared stores), unless the operator says they checked.
    const yPlan = await runCli(yArgs("plan"), { env: ws.env });
    const problems: string[] = JSON.parse(yPlan.stdout).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/is also held by store app-2 .* of config .*rotator\.yaml/);
    expect(problems[0]).toContain("--allow-shared-revoke");
    const overridden = await runCli([...yArgs("plan"), "--allow-shared-revoke"], { env: ws.env });
    expect(JSON.parse(overridden.stdout).problems).toEqual([]);
  });
});
