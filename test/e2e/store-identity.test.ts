/**
 * The hostile tester's findings of issue #8, each reproduced through the real CLI: decisions taken under
 * the locks, one store named two ways, two configs sharing a store, plan finding what rotate would hit,
 * closed output pipes, and secrets in odd places.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startHttpProxy } from "../harness/http-proxy.js";
import {
  ADMIN_VARIABLE,
  authenticates,
  cliArgs,
  envText,
  finishedStatuses,
  journals,
  readStoreKey,
  root,
  runCli,
  transcript,
  until,
  useE2e,
  type Workspace,
} from "./harness.js";

const execFileAsync = promisify(execFile);
const e2e = useE2e();
const bin = join(root, "bin", "rotator.js");

/**
 * A consumer that uses the seeded key, and reports the new key only once `ready` exists: the run stops
 * awaiting consumers until then, and a rollback finds it back on the old key at once.
 */
async function withSlowConsumer(ws: Workspace): Promise<string> {
  const ready = join(ws.dir, "consumer-ready");
  const check = join(ws.dir, "check-consumer.sh");
  await writeFile(check, `#!/bin/sh\ntest "$ROTATOR_EXPECTED_KEY_SID" = "${ws.seeded.sid}" || test -f ${ready}\n`, {
    mode: 0o755,
  });
  await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${check}] }\n`);
  await setVerify(ws.configPath, "consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.2");
  return ready;
}

async function setVerify(configPath: string, extra: string): Promise<void> {
  const text = await readFile(configPath, "utf8");
  await writeFile(
    configPath,
    text.replace(
      "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
      `verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, ${extra} }`,
    ),
  );
}

/** A second config (its own file) over the given store paths, same account. */
async function otherConfig(ws: Workspace, name: string, paths: string[], extra = ""): Promise<string> {
  const file = join(ws.dir, `${name}.yaml`);
  const stores = paths.map((path, i) => `  - { name: ${name}-${i + 1}, type: dotenv-file, path: ${path} }`).join("\n");
  await writeFile(
    file,
    `version: 1\ntwilio:\n  accountSid: ${e2e.emulator.accountSid}\n  admin: { authToken: { env: ${ADMIN_VARIABLE} } }\n  baseUrl: ${e2e.emulator.baseUrl}\ncredential: { type: api-key, friendlyNamePrefix: e2e }\nstores:\n${stores}\nverify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }\n${extra}`,
  );
  return file;
}

/** Keys in the emulator's account that were not there at `before` (a snapshot of key SIDs). */
const newKeys = (before: string[]) => e2e.emulator.keys().filter((k) => !before.includes(k.sid));
const keySids = () => e2e.emulator.keys().map((k) => k.sid);

const argsFor = (config: string, stateDir: string, command: string, ...rest: string[]) => [
  command,
  "--config",
  config,
  "--state-dir",
  stateDir,
  "--json",
  ...rest,
];

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

describe("a store is known by what it is, not how it is written", () => {
  it("the same file through a symlinked directory is the same store: refused while the first run is unfinished", async () => {
    const ws = await e2e.workspace(2);
    await withSlowConsumer(ws);
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    const link = join(ws.dir, "via-link");
    await symlink(ws.dir, link);
    const y = await otherConfig(ws, "y", [join(link, "app-1.env")]);
    const run = await runCli(argsFor(y, ws.stateDir, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(6);
    expect(JSON.parse(run.stdout).error).toContain("app-1.env");
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });

  it("another --state-dir does not split a file store: the claim beside the file refuses it (exit 6) and names the run", async () => {
    const ws = await e2e.workspace(2);
    await withSlowConsumer(ws);
    const x = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(x.code).toBe(4);
    const xRun = JSON.parse(x.stdout).runId as string;
    const before = await readFile(ws.storeFiles[0]!, "utf8");
    const keysBefore = keySids();
    const y = await otherConfig(ws, "y", [ws.storeFiles[0]!]);
    const elsewhere = join(ws.dir, "other-state");
    for (const command of ["plan", "rotate"]) {
      const run = await runCli(argsFor(y, elsewhere, command), { env: ws.env });
      expect(run.code, run.stderr).toBe(command === "plan" ? 2 : 6);
      const text = run.stdout;
      expect(text).toContain(`run ${xRun}`);
      expect(text).toContain(`--state-dir ${ws.stateDir}`);
    }
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(before);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect(newKeys(keysBefore)).toEqual([]);
    // Once X is rolled back its claims are gone, and Y may rotate from the other state directory.
    expect((await runCli(cliArgs(ws, "rollback"), { env: ws.env })).code).toBe(0);
    expect(existsSync(join(ws.dir, ".app-1.env.rotator-claim"))).toBe(false);
    const yRun = await runCli(argsFor(y, elsewhere, "rotate", "--allow-shared-revoke"), { env: ws.env });
    expect(yRun.code, yRun.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });

  it("one store listed twice in one config (a path and a symlink to it) is refused at load, naming both", async () => {
    const ws = await e2e.workspace(1);
    const link = join(ws.dir, "alias.env");
    await symlink(ws.storeFiles[0]!, link);
    const config = await otherConfig(ws, "twice", [ws.storeFiles[0]!, link]);
    const run = await runCli(argsFor(config, ws.stateDir, "plan"), { env: ws.env });
    expect(run.code).toBe(2);
    const error = JSON.parse(run.stdout).error as string;
    expect(error).toMatch(/stores\[1\] \("twice-2"\) is the same store as stores\[0\] \("twice-1"\)/);
    expect(existsSync(join(ws.stateDir, "runs"))).toBe(false);
  });

  it("a crash in preflight leaves a claim that the next run takes over", async () => {
    const ws = await e2e.workspace(1);
    const killed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-lock:rotate" } });
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(join(ws.dir, ".app-1.env.rotator-claim"))).toBe(true);
    const elsewhere = join(ws.dir, "other-state");
    const run = await runCli(argsFor(ws.configPath, elsewhere, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(ws.dir, ".app-1.env.rotator-claim"))).toBe(false);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });
});

describe("two configs sharing a store", () => {
  it("refuses to revoke a key that a store outside the config is known to hold (exit 6), unless overridden", async () => {
    const ws = await e2e.workspace(3);
    const [a, b, c] = ws.storeFiles as [string, string, string];
    // Config Z (all three) rotates first: the state directory now knows a, b and c hold K1.
    const z = await otherConfig(ws, "z", [a, b, c]);
    expect((await runCli(argsFor(z, ws.stateDir, "rotate"), { env: ws.env })).code).toBe(0);
    const k1 = await readStoreKey(c);
    ws.secrets.push(k1.secret!);
    // Config X names only a and b: revoking K1 would strand c.
    const x = await otherConfig(ws, "x", [a, b]);
    const plan = await runCli(argsFor(x, ws.stateDir, "plan"), { env: ws.env });
    expect(plan.code).toBe(2);
    expect(JSON.parse(plan.stdout).problems).toContainEqual(expect.stringMatching(/store z-3 .* of config .*z\.yaml/));
    const refused = await runCli(argsFor(x, ws.stateDir, "rotate"), { env: ws.env });
    expect(refused.code, refused.stderr).toBe(6);
    const result = JSON.parse(refused.stdout);
    expect(result.error).toContain("z-3");
    expect(result.hint).toContain("--allow-shared-revoke");
    expect(await readStoreKey(a)).toEqual(k1);
    expect(await authenticates(e2e.emulator, k1.sid!, k1.secret!)).toBe(true);
    // The operator checked c (say, it is being retired): the override rotates and revokes.
    const forced = await runCli(argsFor(x, ws.stateDir, "rotate", "--allow-shared-revoke"), { env: ws.env });
    expect(forced.code, forced.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(a)).secret!);
    expect(await authenticates(e2e.emulator, k1.sid!, k1.secret!)).toBe(false);
  });
});

describe("plan finds what rotate would hit", () => {
  it("a state directory rotate cannot write: plan and rotate both exit 2 with the same reason", async () => {
    const ws = await e2e.workspace(1);
    const stateDir = join(ws.dir, "frozen");
    await mkdir(stateDir);
    await execFileAsync("chattr", ["+i", stateDir]);
    try {
      const plan = await runCli(argsFor(ws.configPath, stateDir, "plan"), { env: ws.env });
      expect(plan.code).toBe(2);
      expect(JSON.parse(plan.stdout).problems).toContainEqual(expect.stringMatching(/state directory .*frozen/));
      const rotate = await runCli(argsFor(ws.configPath, stateDir, "rotate"), { env: ws.env });
      expect(rotate.code).toBe(2);
      expect(JSON.parse(rotate.stdout).error).toMatch(/cannot use the state directory .*frozen.*EPERM/);
      expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    } finally {
      await execFileAsync("chattr", ["-i", stateDir]);
    }
  });

  it("a bind-mounted dotenv file is refused by plan and by rotate's preflight, with what to do", async () => {
    const ws = await e2e.workspace(1);
    const source = join(ws.dir, "host-copy.env");
    await writeFile(source, await readFile(ws.storeFiles[0]!), { mode: 0o600 });
    await execFileAsync("mount", ["--bind", source, ws.storeFiles[0]!]);
    const keysBefore = keySids();
    try {
      for (const command of ["plan", "rotate"]) {
        const run = await runCli(cliArgs(ws, command), { env: ws.env });
        expect(run.code, run.stderr).toBe(2);
        expect(run.stdout).toMatch(/is a mount point .*Mount the directory/);
      }
      expect(newKeys(keysBefore)).toEqual([]);
    } finally {
      await execFileAsync("umount", [ws.storeFiles[0]!]);
    }
  });

  it("a verifyPath a Standard key may not call is a problem for plan and rotate, before any key exists", async () => {
    const ws = await e2e.workspace(1);
    await ws.writeConfig();
    const text = await readFile(ws.configPath, "utf8");
    await writeFile(
      ws.configPath,
      text.replace(
        "friendlyNamePrefix: e2e",
        "friendlyNamePrefix: e2e\n  verifyPath: /2010-04-01/Accounts/{AccountSid}/Keys.json",
      ),
    );
    const keysBefore = e2e.emulator.keys().length;
    for (const command of ["plan", "rotate"]) {
      const run = await runCli(cliArgs(ws, command), { env: ws.env });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toMatch(/credential\.verifyPath .*Keys\.json is an endpoint a Standard key may not call/);
    }
    expect(e2e.emulator.keys()).toHaveLength(keysBefore);
  });

  it("a verifyPath refused to the current key, which works elsewhere, is found by trying it", async () => {
    const ws = await e2e.workspace(1);
    const text = await readFile(ws.configPath, "utf8");
    await writeFile(
      ws.configPath,
      text.replace(
        "friendlyNamePrefix: e2e",
        "friendlyNamePrefix: e2e\n  verifyPath: /2010-04-01/Accounts/{AccountSid}/Nope.json",
      ),
    );
    const run = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).problems.join("\n")).toMatch(/credential\.verifyPath .*Nope\.json answered HTTP 404/);
  });
});

describe("runs that must not die of their output", () => {
  it("`rotate 2>&1 | head -n 3` completes the run anyway: new key everywhere, old revoked, no lock left", async () => {
    const ws = await e2e.workspace(2);
    const args = cliArgs(ws, "rotate").filter((arg) => arg !== "--json");
    const script = `node ${bin} ${args.map((a) => `'${a}'`).join(" ")} 2>&1 | head -n 3; echo "rotator-exit=\${PIPESTATUS[0]}"`;
    const { stdout } = await execFileAsync("bash", ["-c", script], { env: ws.env as NodeJS.ProcessEnv });
    transcript.push(stdout);
    expect(stdout).toContain("rotator-exit=0");
    const key = await readStoreKey(ws.storeFiles[1]!);
    ws.secrets.push(key.secret!);
    expect(key.sid).not.toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, key.sid!, key.secret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(await finishedStatuses(ws)).toContain("completed");
    expect(existsSync(join(ws.stateDir, "locks")) ? await lockFiles(ws) : []).toEqual([]);
  });

  it("`| grep -m1 'rolling back'` does not stop a rollback half-way", async () => {
    const ws = await e2e.workspace(2);
    // The second store's directory becomes immutable once the run is past preflight: its write fails and
    // the run rolls back, while grep has closed the pipe at the first "rolling back".
    const dir2 = join(ws.dir, "locked");
    await mkdir(dir2, { mode: 0o700 });
    const file2 = join(dir2, "app-2.env");
    await writeFile(file2, envText(e2e.emulator.accountSid, ws.seeded.sid, ws.seeded.secret, "app-2"), { mode: 0o600 });
    ws.storeFiles[1] = file2;
    await ws.writeConfig();
    const before = await readFile(ws.storeFiles[0]!, "utf8");
    const keysBefore = keySids();
    e2e.emulator.faults.add({
      kind: "latency",
      latencyMs: 1500,
      method: "POST",
      path: "/2010-04-01/Accounts/*/Keys.json",
      times: 1,
    });
    const args = cliArgs(ws, "rotate").filter((arg) => arg !== "--json");
    const script = `node ${bin} ${args.map((a) => `'${a}'`).join(" ")} 2>&1 | grep -m1 "rolling back"; echo "rotator-exit=\${PIPESTATUS[0]}"`;
    let stdout: string;
    try {
      const running = execFileAsync("bash", ["-c", script], { env: ws.env as NodeJS.ProcessEnv });
      await until(async () => (await journals(ws)).includes('"issue-started"'));
      await execFileAsync("chattr", ["+i", dir2]);
      ({ stdout } = await running);
    } finally {
      await execFileAsync("chattr", ["-i", dir2]);
    }
    transcript.push(stdout);
    expect(stdout).toContain("rotator-exit=3");
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(before);
    expect(newKeys(keysBefore)).toEqual([]);
    expect(await finishedStatuses(ws)).toContain("rolled-back");
  });
});

async function lockFiles(ws: Workspace): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  return (await readdir(join(ws.stateDir, "locks"))).filter((name) => name.endsWith(".lock"));
}

describe("no secret printed", () => {
  it("a malformed create-key answer never quotes its body, and never piles up keys", async () => {
    const ws = await e2e.workspace(1);
    const keysBefore = keySids();
    // A middlebox cuts the JSON of every create-key answer after the secret's first characters.
    const proxy = await startHttpProxy(e2e.emulator.baseUrl, (request) =>
      request.method === "POST" && /\/Keys\.json$/.test(request.path)
        ? { rewrite: (body) => body.subarray(0, body.indexOf('"secret"') + 16) }
        : "forward",
    );
    try {
      const text = await readFile(ws.configPath, "utf8");
      await writeFile(ws.configPath, text.replace(`baseUrl: ${e2e.emulator.baseUrl}`, `baseUrl: ${proxy.endpoint}`));
      const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
      expect(run.code, run.stderr).toBe(3);
      expect(run.stdout).toMatch(/not JSON \(\d+ bytes, not shown/);
      const creates = proxy.requests.filter((r) => r.method === "POST" && /\/Keys\.json$/.test(r.path));
      expect(creates.length).toBeLessThanOrEqual(3);
      // Every key those creates made was deleted: none of this run's is left.
      expect(newKeys(keysBefore)).toEqual([]);
      expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    } finally {
      await proxy.close();
    }
  });
});

describe("negative age", () => {
  it("a key created 'in the future' by this machine's clock is clock skew: --if-due says so and rotates nothing", async () => {
    const ws = await e2e.workspace(1);
    // The machine's clock is a year behind Twilio's: rotator's Date.now() is shifted through a preload.
    const preload = join(ws.dir, "clock-behind.mjs");
    await writeFile(preload, "const real = Date.now; const shift = 400 * 86400000; Date.now = () => real() - shift;\n");
    await chmod(preload, 0o644);
    const env = { ...ws.env, NODE_OPTIONS: `--import ${preload}` };
    const run = await runCli(cliArgs(ws, "rotate", "--if-due"), { env });
    expect(run.code, run.stderr).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result.error).toMatch(/created 400 days in the future by this machine's clock/);
    expect(result.hint).toMatch(/clock is behind/);
    expect(result.error).not.toMatch(/-\d+ days old/);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
  });
});
