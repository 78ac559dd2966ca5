/**
 * plan finds what rotate would hit, before any key exists: a state directory rotate cannot write, a bind-mounted
 * dotenv file, a verifyPath the key may not call (issue #8's hostile tester, through the real CLI).
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { argsFor, configVariants } from "./config-variants.js";
import { cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const execFileAsync = promisify(execFile);
const e2e = useE2e();
const { newKeys, keySids } = configVariants(e2e);

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
