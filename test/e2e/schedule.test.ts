/**
 * `rotator schedule` end to end (issue #11): the real CLI as a long-running process on a cron expression
 * with seconds. It fires and rotates a due key; a slow run (held at a pause point) is never overlapped, the
 * firings meanwhile are skipped and logged; an unfinished run (kill -9 mid-write) is resumed on start; and
 * SIGTERM stops the run in progress after its current step, then the scheduler. Conditions are polled with
 * deadlines; nothing is timed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanup,
  cliArgs,
  ensureBuilt,
  makeWorkspace,
  readStoreKey,
  root,
  runCli,
  secretLeaks,
  startTwilioEmulator,
  type TwilioEmulator,
  transcript,
  until,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const DAY = 86_400_000;
let offset = -100 * DAY;
const issued = new Set<string>();
let emulator: TwilioEmulator;
const workspaces: Workspace[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  // Keys seeded "100 days ago" are due (maxAgeDays 90); the clock is then put right.
  emulator = await startTwilioEmulator({
    port: 0,
    clock: () => Date.now() + offset,
    onSecretIssued: (s) => issued.add(s),
  });
  for (let i = 0; i < 4; i++) workspaces.push(await makeWorkspace(emulator, 1));
  offset = 0;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  expect(await secretLeaks(issued, workspaces)).toEqual([]);
  await emulator.close();
  await Promise.all(workspaces.map(cleanup));
});

interface Decision {
  event: string;
  command?: string;
  status?: string;
  exitCode?: number;
  runId?: string | null;
  reason?: string;
  runInProgress?: boolean;
}

function schedule(ws: Workspace, cron: string, env: Record<string, string | undefined> = {}) {
  const child = spawn(
    process.execPath,
    [join(root, "bin", "rotator.js"), ...cliArgs(ws, "schedule", "--cron", cron, "--jitter", "0s")],
    {
      cwd: root,
      env: { ...ws.env, ...env } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (chunk) => {
    out.stdout += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    out.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      transcript.push(out.stdout, out.stderr);
      resolve(code);
    }),
  );
  const decisions = () =>
    out.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Decision);
  return { child, out, exited, decisions };
}

const journalsOf = async (ws: Workspace) =>
  existsSync(join(ws.stateDir, "runs"))
    ? (await readdir(join(ws.stateDir, "runs"))).filter((n) => n.endsWith(".jsonl"))
    : [];

describe("rotator schedule", () => {
  it("fires on a short cron, rotates the due key, never overlaps a slow run, and stops on SIGTERM", async () => {
    const ws = workspaces[0]!;
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const run = schedule(ws, "* * * * * *", { ROTATOR_PAUSE: "after-lock:rotate", ROTATOR_PAUSE_FILE: pause });
    await until(async () => existsSync(`${pause}.reached`), 20_000);
    // While the first run is held, every second's firing is skipped, not started beside it.
    await until(async () => run.decisions().filter((d) => d.event === "skipped").length >= 2, 20_000);
    expect(run.decisions().filter((d) => d.event === "result")).toEqual([
      expect.objectContaining({ command: "resume", status: "nothing-to-resume" }),
    ]);
    await rm(pause);
    await until(
      async () => run.decisions().some((d) => d.command === "rotate --if-due" && d.status === "completed"),
      20_000,
    );
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    // The next firing finds the new key young: not due.
    await until(async () => run.decisions().some((d) => d.status === "not-due"), 20_000);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);

    const decisions = run.decisions();
    expect(decisions[0]).toMatchObject({ event: "result", command: "resume" });
    expect(decisions.some((d) => d.event === "started")).toBe(true);
    expect(decisions.find((d) => d.event === "skipped")?.reason).toContain("runs never overlap");
    expect(decisions.filter((d) => d.exitCode === 5)).toEqual([]); // never "locked" by itself
    expect(decisions.at(-2)).toMatchObject({ event: "stopping", signal: "SIGTERM" });
    expect(decisions.at(-1)).toEqual(expect.objectContaining({ event: "stopped", exitCode: 0 }));
    expect(await journalsOf(ws)).toHaveLength(1);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).not.toBe(ws.seeded.sid);
  });

  it("resumes an unfinished run when it starts", async () => {
    const ws = workspaces[1]!;
    const crashed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-write:app-1" } });
    expect(crashed.signal).toBe("SIGKILL");
    const [journal] = await journalsOf(ws);
    const runId = journal!.replace(/\.jsonl$/, "");
    const run = schedule(ws, "0 0 1 1 *");
    await until(async () => run.decisions().some((d) => d.event === "started"), 20_000);
    expect(run.decisions()[0]).toMatchObject({ event: "result", command: "resume", status: "completed", runId });
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });

  it("SIGTERM during a run: it stops after the step in progress, nothing half-done, then the scheduler exits", async () => {
    const ws = workspaces[2]!;
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const run = schedule(ws, "* * * * * *", { ROTATOR_PAUSE: "after-lock:rotate", ROTATOR_PAUSE_FILE: pause });
    await until(async () => existsSync(`${pause}.reached`), 20_000);
    run.child.kill("SIGTERM");
    await until(async () => run.decisions().some((d) => d.event === "stopping"), 20_000);
    expect(run.decisions().find((d) => d.event === "stopping")?.runInProgress).toBe(true);
    await rm(pause);
    expect(await run.exited).toBe(130);
    const decisions = run.decisions();
    expect(decisions.find((d) => d.command === "rotate --if-due")).toMatchObject({
      status: "interrupted",
      exitCode: 130,
    });
    expect(decisions.at(-1)).toMatchObject({ event: "stopped", exitCode: 130 });
    expect(run.out.stderr).toContain("SIGTERM: finishing the step in progress");
    expect(await readStoreKey(ws.storeFiles[0]!)).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
  });

  it("a cron expression that is not one is bad input (exit 2)", async () => {
    const ws = workspaces[0]!;
    const bad = await runCli(cliArgs(ws, "schedule", "--cron", "every night"), { env: ws.env });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error).toContain('--cron "every night" is not a cron expression');
  });
});

describe("rotator status --check", () => {
  it("exit codes for monitoring: 0 fine, 10 due, 11 overdue, 13 a problem, 12 an unfinished run", async () => {
    const ws = workspaces[3]!; // its key is 100 days old
    const check = async (maxAgeDays: number) => {
      await writeConfigFor(ws, { credential: { maxAgeDays } });
      const run = await runCli(cliArgs(ws, "status", "--check"), { env: ws.env });
      return { code: run.code, result: JSON.parse(run.stdout) as { check: { state: string; summary: string } } };
    };
    expect(await check(200)).toMatchObject({ code: 0, result: { check: { state: "ok" } } });
    expect(await check(100)).toMatchObject({ code: 10, result: { check: { state: "due" } } });
    const overdue = await check(90);
    expect(overdue).toMatchObject({ code: 11, result: { check: { state: "overdue" } } });
    expect(overdue.result.check.summary).toContain("the scheduled rotation is not happening");
    const human = await runCli(
      cliArgs(ws, "status", "--check").filter((a) => a !== "--json"),
      { env: ws.env },
    );
    expect(human.code).toBe(11);
    expect(human.stdout).toContain("check: overdue (exit 11)");

    // A problem rotate would stop on: the admin credential refused.
    const refused = await runCli(cliArgs(ws, "status", "--check"), {
      env: { ...ws.env, TEST_TWILIO_AUTH_TOKEN: "0".repeat(32) },
    });
    expect(refused.code).toBe(13);

    const crashed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-write:app-1" } });
    expect(crashed.signal).toBe("SIGKILL");
    expect((await check(200)).code).toBe(12);
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    expect((await check(90)).code).toBe(0);
  });
});
