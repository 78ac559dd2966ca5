/** runTwilioEmulatorCommand: one JSON line once listening, clean shutdown on SIGINT/SIGTERM. */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { runTwilioEmulatorCommand } from "../../src/emulator/cli.js";
import type { TwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient } from "../../src/twilio/client.js";
import { PROJECT_ROOT, SPEC_DIR } from "./helpers/contract.js";

const FIXTURE = path.join(PROJECT_ROOT, "test/emulator/fixtures/run-emulator-cli.ts");
const SID = `AC${"ab".repeat(16)}`;
const TOKEN = "cd".repeat(16);

interface Announcement {
  baseUrl: string;
  accountSid: string;
  authToken: string;
}

let running: TwilioEmulator | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
});

describe("runTwilioEmulatorCommand in-process", () => {
  it("prints exactly one JSON line with baseUrl and the main credentials, which work", async () => {
    const lines: string[] = [];
    running = await runTwilioEmulatorCommand(
      { port: 0, specDir: SPEC_DIR },
      { write: (text: string) => lines.push(text) },
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\{.*\}\n$/);
    const announced = JSON.parse(lines[0] ?? "") as Announcement;
    expect(Object.keys(announced)).toEqual(["baseUrl", "accountSid", "authToken"]);
    expect(announced).toEqual({
      baseUrl: running.baseUrl,
      accountSid: running.accountSid,
      authToken: running.authToken,
    });
    expect(announced.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createTwilioClient({ ...announced, username: announced.accountSid, password: announced.authToken });
    expect((await client.api.v2010.accounts(announced.accountSid).fetch()).sid).toBe(announced.accountSid);
  });

  it("uses the given credentials and rejects malformed ones", async () => {
    const lines: string[] = [];
    running = await runTwilioEmulatorCommand(
      { accountSid: SID, authToken: TOKEN, specDir: SPEC_DIR },
      { write: (t: string) => lines.push(t) },
    );
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ accountSid: SID, authToken: TOKEN });
    await expect(
      runTwilioEmulatorCommand({ accountSid: "AC1", specDir: SPEC_DIR }, { write: () => true }),
    ).rejects.toThrow(/accountSid/);
  });

  it("closes on SIGINT or SIGTERM and removes its signal handlers", async () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
      const emulator = await runTwilioEmulatorCommand({ specDir: SPEC_DIR }, { write: () => true });
      const added = process.listeners(signal).filter((l) => !before[signal].includes(l));
      expect(added).toHaveLength(1);
      // Call our handler directly: emitting the signal would also reach the test runner's own handlers.
      added[0]?.(signal);
      const up = () =>
        fetch(`${emulator.baseUrl}/__emulator/snapshot`).then(
          () => true,
          () => false,
        );
      await expect.poll(up).toBe(false);
      expect(process.listeners("SIGINT")).toEqual(before.SIGINT);
      expect(process.listeners("SIGTERM")).toEqual(before.SIGTERM);
    }
  });
});

describe("runTwilioEmulatorCommand as a process", () => {
  it("announces itself on stdout, serves the official client, and exits 0 on SIGTERM", async () => {
    child = spawn(process.execPath, ["--import", "tsx", FIXTURE, SID, TOKEN], {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc = child;
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      proc.once("exit", () => reject(new Error(`emulator exited before announcing itself: ${stderr}`)));
    });
    const announced = JSON.parse(first) as Announcement;
    expect(announced).toMatchObject({ accountSid: SID, authToken: TOKEN });
    expect(announced.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const client = createTwilioClient({ ...announced, username: SID, password: TOKEN });
    const key = await client.api.v2010.accounts(SID).newKeys.create({ friendlyName: "over the wire" });
    expect(key.sid).toMatch(/^SK/);

    proc.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toBe("");
  }, 30_000);
});
