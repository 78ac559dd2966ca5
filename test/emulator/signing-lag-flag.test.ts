/** `rotator emulator twilio --signing-lag-ms`: the lag reaches the running emulator; a bad value is exit 2. */
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./helpers/contract.js";

const CLI = path.join(PROJECT_ROOT, "src/cli/main.ts");

function rotator(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe("--signing-lag-ms", () => {
  it("starts the emulator with that lag, as its admin API reports", async () => {
    const run = rotator(["emulator", "twilio", "--signing-lag-ms", "1500"]);
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: run.child.stdout }).once("line", resolve);
        run.child.once("exit", () => reject(new Error(`exited before announcing itself: ${run.stderr()}`)));
      });
      const { baseUrl } = JSON.parse(first) as { baseUrl: string };
      const settings = await (await fetch(`${baseUrl}/__emulator/webhooks/settings`)).json();
      expect(settings).toEqual({ signingLagMs: 1500, timeoutMs: 15_000 });
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exited).toBe(0);
  }, 30_000);

  it("refuses a value that is not a whole number of milliseconds with exit 2, naming the flag", async () => {
    for (const bad of ["-1", "1.5", "soon", "3600001"]) {
      const run = rotator(["emulator", "twilio", "--signing-lag-ms", bad]);
      expect(await run.exited, bad).toBe(2);
      expect(run.stderr()).toContain(`--signing-lag-ms must be a whole number of milliseconds`);
    }
  }, 60_000);
});
