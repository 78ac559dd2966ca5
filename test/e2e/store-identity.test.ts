/**
 * A store is known by what it is, not by how a config writes it (a symlinked directory, another --state-dir, one
 * store listed twice), and a key a store outside the config is known to hold is not revoked: reproduced through
 * the real CLI (issue #8's hostile tester).
 */
import { existsSync } from "node:fs";
import { readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { argsFor, configVariants } from "./config-variants.js";
import { authenticates, cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();
const { withSlowConsumer, otherConfig, newKeys, keySids } = configVariants(e2e);

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
