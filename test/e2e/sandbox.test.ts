/** The README's first command: a whole rotation on the built-in sandbox, and a plan that changes nothing. */
import { describe, expect, it } from "vitest";
import { ensureBuilt, root, runCli } from "./harness.js";

describe("--sandbox", () => {
  it("rotate runs the whole fixed order and the independent check confirms the outcome", async () => {
    ensureBuilt();
    const run = await runCli(["rotate", "--sandbox", "--json"], {
      env: { ...process.env, ROTATOR_FAILPOINT: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("completed");
    expect(result.stores).toEqual([
      { name: "app-a", type: "dotenv-file", outcome: "written" },
      { name: "app-b", type: "dotenv-file", outcome: "written" },
    ]);
    expect(run.stderr).toContain(`app-a.env holds ${result.newKey}`);
    expect(run.stderr).toContain(`app-b.env holds ${result.newKey}`);
    expect(run.stderr).toContain(`new key ${result.newKey}: authenticates`);
    expect(run.stderr).toContain(`old key ${result.oldKey}: refused by Twilio with 20003 (revoked)`);
    expect(run.stderr).toContain(`keys left in the account: ${result.newKey}\n`);
    expect(run.stderr + run.stdout).not.toMatch(/[0-9a-f]{32}/);
  });

  it("plan prints the steps and leaves the seeded key in place", async () => {
    const run = await runCli(["plan", "--sandbox"], { env: process.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("rotator plan (dry run: nothing was changed)");
    expect(run.stdout).toContain("no problems found");
    expect(run.stderr).toMatch(/old key SK…[0-9a-f]{4}: still authenticates/);
  });
});

describe("rotator emulator twilio", () => {
  it("prints one JSON line once listening, serves the official client, and exits 0 on SIGTERM", async () => {
    ensureBuilt();
    const { spawn } = await import("node:child_process");
    const { createInterface } = await import("node:readline");
    const { createTwilioClient } = await import("../../src/twilio/client.js");
    const child = spawn(process.execPath, [`${root}/bin/rotator.js`, "emulator", "twilio", "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
    const info = JSON.parse(line) as { baseUrl: string; accountSid: string; authToken: string };
    expect(Object.keys(info).sort()).toEqual(["accountSid", "authToken", "baseUrl"]);
    expect(info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createTwilioClient({
      accountSid: info.accountSid,
      username: info.accountSid,
      password: info.authToken,
      baseUrl: info.baseUrl,
    });
    expect((await client.api.v2010.accounts(info.accountSid).fetch()).sid).toBe(info.accountSid);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("refuses a bad port with exit 2", async () => {
    const run = await runCli(["emulator", "twilio", "--port", "99999"], { env: process.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--port must be a whole number from 0 to 65535");
  });
});
