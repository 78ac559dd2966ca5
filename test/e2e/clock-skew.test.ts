/**
 * A key dated in the future by this machine's clock is clock skew: --if-due says so and rotates nothing (issue
 * #8's hostile tester, through the real CLI).
 */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();

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
