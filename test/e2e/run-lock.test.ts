/**
 * Promise 3 for a crash during preflight, after rotate took its locks but before the run's journal exists:
 * rotate then refuses with exit 5 and points at `rotator resume`, which finds nothing to finish, removes the
 * stale locks (saying so), and the next rotate runs.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliArgs, root, runCli, useE2e } from "./harness.js";

const e2e = useE2e();

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
