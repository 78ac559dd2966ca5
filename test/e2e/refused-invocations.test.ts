/**
 * Invocations that cannot do what they ask are bad input: exit 2, a message naming what is wrong and how to
 * fix it (never a stack trace), and nothing changed: the stores hold the same bytes, Twilio the same keys, and
 * no run is journaled. Each through the real CLI.
 */
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, cliArgs, journals, REMOVE, runCli, useE2e, type Workspace, writeConfigFor } from "./harness.js";

const e2e = useE2e();

/** What must not change: every store file's bytes, the account's keys, the journals. */
async function untouched(ws: Workspace): Promise<() => Promise<void>> {
  const files = await Promise.all(ws.storeFiles.map((file) => readFile(file)));
  const keys = e2e.emulator.keys().map((key) => key.sid);
  return async () => {
    expect(await Promise.all(ws.storeFiles.map((file) => readFile(file)))).toEqual(files);
    expect(e2e.emulator.keys().map((key) => key.sid)).toEqual(keys);
    expect(await journals(ws)).toBe("");
  };
}

/** Exit 2 with every fragment in what the CLI printed (stderr, or the --json result), and no stack trace. */
function expectRefused(run: CliRun, ...fragments: string[]): void {
  const printed = `${run.stdout}\n${run.stderr}`;
  expect(run.code, printed).toBe(2);
  for (const fragment of fragments) expect(printed).toContain(fragment);
  expect(printed).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

describe("schedule", () => {
  it("an unknown --timezone names the option and the names it takes", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "schedule", "--cron", "0 3 * * *", "--timezone", "Mars/Olympus"), {
      env: ws.env,
    });
    expectRefused(run, "--timezone", "Mars/Olympus", "not a time zone this machine knows", "Europe/Dublin");
    await check();
  });

  it("a cron expression that never fires is refused before anything runs", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "schedule", "--cron", "0 0 30 2 *"), { env: ws.env });
    expectRefused(run);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ command: "schedule", status: "failed", exitCode: 2 });
    expect(result.error).toContain('--cron "0 0 30 2 *" never fires');
    expect(result.error).toContain("nothing was scheduled");
    expect(result.hint).toContain('"0 3 * * *" is every night at 03:00');
    await check();
  });

  it("a config that does not load stops the scheduler at once instead of failing every run", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "schedule", "--cron", "* * * * * *"), {
      env: { ...ws.env, TEST_TWILIO_AUTH_TOKEN: undefined },
    });
    expectRefused(run, "environment variable TEST_TWILIO_AUTH_TOKEN is not set");
    expect(run.stdout).not.toContain('"event":"started"');
    await check();
  });
});

describe("watch --metrics-port and --metrics-host", () => {
  let taken: Server;
  let takenPort: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    takenPort = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it("a port in use is named, with how to find who holds it", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "watch", "--once", "--metrics-port", String(takenPort)), { env: ws.env });
    expectRefused(run, `port ${takenPort} on 127.0.0.1 is already in use`, "ss -ltnp");
    await check();
  });

  it("an address that is not this machine's, or does not resolve, is named", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never an address of this machine.
    const foreign = await runCli(cliArgs(ws, "watch", "--once", "--metrics-port", "0", "--metrics-host", "192.0.2.7"), {
      env: ws.env,
    });
    expectRefused(foreign, "192.0.2.7 is not an address of this machine", "0.0.0.0");
    const unknown = await runCli(
      cliArgs(ws, "watch", "--once", "--metrics-port", "0", "--metrics-host", "metrics.invalid"),
      { env: ws.env },
    );
    expectRefused(unknown, "metrics.invalid does not resolve to an address");
    await check();
  });
});

describe("rotate", () => {
  it("--if-due with --emergency contradict each other: refused, nothing rotated", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "rotate", "--if-due", "--emergency"), { env: ws.env });
    expectRefused(run, "--if-due and --emergency contradict each other", "drop --if-due");
    await check();
  });
});

describe("sync --key-sid", () => {
  it("with --from-store it would be ignored: refused", async () => {
    const ws = await e2e.workspace(2);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "sync", "--from-store", "app-1", "--key-sid", ws.seeded.sid), {
      env: ws.env,
    });
    expectRefused(run, "--key-sid goes with --from-env", "drop --key-sid");
    await check();
  });

  it("with an auth-token config it names nothing: refused", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, { credential: { type: "auth-token", friendlyNamePrefix: REMOVE } });
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "sync", "--from-env", "NEW_TOKEN", "--key-sid", ws.seeded.sid), {
      env: { ...ws.env, NEW_TOKEN: "0".repeat(32) },
    });
    expectRefused(run, "--key-sid names an API key", "credential.type: auth-token", "drop --key-sid");
    await check();
  });

  it("a --key-sid that is not one says what is wrong with it", async () => {
    const ws = await e2e.workspace(1);
    const check = await untouched(ws);
    const run = await runCli(cliArgs(ws, "sync", "--from-env", "SECRET", "--key-sid", ws.seeded.sid.slice(0, 20)), {
      env: { ...ws.env, SECRET: ws.seeded.secret },
    });
    expectRefused(run, "--key-sid is 20 characters; an API key SID is 34 characters", "truncated when copied?");
    await check();
  });
});

describe("a truncated account SID", () => {
  it("is called truncated, not a secret, in the config and by doctor", async () => {
    const ws = await e2e.workspace(1);
    const truncated = ws.twilio.accountSid.slice(0, 32);
    await writeConfigFor(ws, { twilio: { accountSid: truncated } });
    const check = await untouched(ws);
    const plan = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expectRefused(plan, "twilio.accountSid: is 32 characters; an account SID is 34 characters", "truncated");
    expect(plan.stdout + plan.stderr).not.toContain("looks like a secret");
    const doctor = await runCli(["doctor", "--offline"], {
      env: { ...ws.env, TWILIO_ACCOUNT_SID: truncated, TWILIO_AUTH_TOKEN: "0".repeat(32) },
    });
    expectRefused(doctor, "TWILIO_ACCOUNT_SID is 32 characters", "truncated when copied?");
    expect(doctor.stdout + doctor.stderr).not.toContain("looks like a secret");
    await check();
  });
});

describe("a dotenv store that is not a dotenv file", () => {
  it("a binary file with no credential lines is refused in preflight and left byte for byte", async () => {
    const ws = await e2e.workspace(2);
    // A gzip member: control bytes, no NUL in its first bytes, no KEY=value line.
    const binary = Buffer.from([0x1f, 0x8b, 0x08, 0x08, 0x9c, 0x3d, 0x54, 0x61, 0x02, 0x03, 0x61, 0x2e, 0x65, 0x0a]);
    const file = join(ws.dir, "archive.env.gz");
    await writeFile(file, binary, { mode: 0o600 });
    await writeConfigFor(ws, { stores: { 1: { path: file } } });
    const check = await untouched(ws);
    for (const command of ["plan", "rotate"]) {
      const run = await runCli(cliArgs(ws, command), { env: ws.env });
      expectRefused(run, `file ${file} is not text`, "not a dotenv (KEY=value) file");
    }
    expect(await readFile(file)).toEqual(binary);
    await check();
  });
});
