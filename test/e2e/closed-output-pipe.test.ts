/**
 * Runs that must not die of their output: a reader that closes the pipe early (`| head`, `| grep -m1`) does not
 * stop a run or a rollback half-way (issue #8's hostile tester, through the real CLI).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { configVariants } from "./config-variants.js";
import {
  authenticates,
  cliArgs,
  envText,
  finishedStatuses,
  journals,
  readStoreKey,
  root,
  transcript,
  until,
  useE2e,
  type Workspace,
} from "./harness.js";

const execFileAsync = promisify(execFile);
const e2e = useE2e();
const bin = join(root, "bin", "rotator.js");
const { newKeys, keySids } = configVariants(e2e);

async function lockFiles(ws: Workspace): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  return (await readdir(join(ws.stateDir, "locks"))).filter((name) => name.endsWith(".lock"));
}

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
