/**
 * The CLI's conventions (issue #7), mostly in-process through the same program the binary runs: help and
 * version, stdout for results and stderr for progress, color only where wanted, the confirmation prompt,
 * signals stopping a run between steps, a live run called running everywhere, and the `--json` shape.
 */
import { existsSync } from "node:fs";
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import type { Runtime } from "../../src/cli/runtime.js";
import {
  authenticates,
  cliArgs,
  finishedStatuses,
  journals,
  readStoreKey,
  runCli,
  runInProcess,
  until,
  useE2e,
  type Workspace,
} from "./harness.js";

const e2e = useE2e();

/** Every command and subcommand the program defines ("emulator twilio"), read from the program itself. */
const COMMANDS = (() => {
  const paths: string[] = [];
  const visit = (command: Command, prefix: string) => {
    for (const sub of command.commands) {
      const path = `${prefix}${sub.name()}`;
      paths.push(path);
      visit(sub, `${path} `);
    }
  };
  visit(buildProgram({} as Runtime, { code: 0 }), "");
  return paths;
})();

/** A consumer that reports the new key only once `ready` exists (and is back on the seeded key at once). */
async function slowConsumer(ws: Workspace, timeoutSeconds: number): Promise<string> {
  const ready = join(ws.dir, "consumer-ready");
  const check = join(ws.dir, "check-consumer.sh");
  await writeFile(check, `#!/bin/sh\ntest "$ROTATOR_EXPECTED_KEY_SID" = "${ws.seeded.sid}" || test -f ${ready}\n`, {
    mode: 0o755,
  });
  await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${check}] }\n`);
  const text = await readFile(ws.configPath, "utf8");
  await writeFile(
    ws.configPath,
    text.replace(
      "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
      `verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: ${timeoutSeconds}, consumersPollSeconds: 0.2 }`,
    ),
  );
  return ready;
}

const lockFiles = async (ws: Workspace) =>
  existsSync(join(ws.stateDir, "locks"))
    ? (await readdir(join(ws.stateDir, "locks"))).filter((name) => name.endsWith(".lock"))
    : [];

describe("help and version", () => {
  it("every help text fits 80 columns, and every command has an Examples section", async () => {
    const top = await runInProcess(["--help"], { env: process.env });
    expect(top.code).toBe(0);
    for (const section of [
      "Common options",
      "Config file:",
      "Environment:",
      "ROTATOR_CONFIG",
      "Exit codes:",
      "Examples:",
    ]) {
      expect(top.stdout).toContain(section);
    }
    for (const command of COMMANDS) {
      const help = await runInProcess([...command.split(" "), "--help"], { env: process.env });
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain("Examples:");
      for (const line of [...top.stdout.split("\n"), ...help.stdout.split("\n")]) {
        expect(line.length, `${command}: ${line}`).toBeLessThanOrEqual(80);
      }
    }
  });

  it("--version, -v and `rotator version` print the version and Node's; --json too", async () => {
    const { version } = JSON.parse(await readFile(join(__dirname, "../../package.json"), "utf8")) as {
      version: string;
    };
    for (const args of [["--version"], ["-v"], ["version"]]) {
      const run = await runInProcess(args, { env: process.env });
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`rotator ${version} (node ${process.version}, ${process.platform}-${process.arch})\n`);
    }
    const json = await runInProcess(["version", "--json"], { env: process.env });
    expect(JSON.parse(json.stdout)).toEqual({
      schemaVersion: 1,
      command: "version",
      version,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    });
  });

  it("a usage error is exit 2 and says where to find help", async () => {
    const run = await runInProcess(["rotate", "--no-such-option"], { env: process.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option '--no-such-option'");
    expect(run.stderr).toContain("rotator --help");
  });
});

describe("output conventions", () => {
  it("rotate: the result summary on stdout, progress on stderr", async () => {
    const ws = await e2e.workspace();
    const run = await runInProcess(
      cliArgs(ws, "rotate").filter((a) => a !== "--json"),
      { env: ws.env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/run \S+: completed \(exit 0\)/);
    expect(run.stdout).not.toContain("==>");
    expect(run.stderr).toContain("==> writing SK…");
    expect(run.stderr).not.toContain("completed (exit 0)");
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });

  it("color on a terminal only: never with NO_COLOR or --no-color; ASCII marks where the locale has no UTF-8", async () => {
    const ws = await e2e.workspace();
    const args = ["plan", "--config", ws.configPath, "--state-dir", ws.stateDir];
    const ansi = "\u001b[";
    // NO_COLOR may be set for the whole test run (npm test writing to a file): not for this terminal.
    const tty = await runInProcess(args, { env: { ...ws.env, NO_COLOR: undefined, LANG: "C.UTF-8" }, tty: true });
    expect(tty.stdout).toContain(ansi);
    expect(tty.stdout).toContain("✓ no problems found");
    expect((await runInProcess(args, { env: { ...ws.env, NO_COLOR: "1" }, tty: true })).stdout).not.toContain(ansi);
    expect(
      (await runInProcess([...args, "--no-color"], { env: { ...ws.env, NO_COLOR: undefined }, tty: true })).stdout,
    ).not.toContain(ansi);
    expect((await runInProcess(args, { env: ws.env, tty: false })).stdout).not.toContain(ansi);
    const ascii = await runInProcess(args, { env: { ...ws.env, LANG: "C", LC_ALL: "", LC_CTYPE: "" }, tty: false });
    expect(ascii.stdout).toContain("ok no problems found");
    expect(ascii.stdout).toMatch(/SK\.\.\.[0-9a-f]{4}/);
    expect(ascii.stdout).not.toMatch(/[✓✗…]/);
  });

  it("--json: schemaVersion, the command named on errors, consumers: [] when there are none", async () => {
    const ws = await e2e.workspace();
    const bad = await runInProcess(["rotate", "--config", join(ws.dir, "missing.yaml"), "--json"], { env: ws.env });
    expect(bad.code).toBe(2);
    const error = JSON.parse(bad.stdout);
    expect(error).toMatchObject({ schemaVersion: 1, command: "rotate", status: "failed", consumers: [] });
    const plan = JSON.parse((await runInProcess(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    expect(plan).toMatchObject({ schemaVersion: 1, command: "plan", consumers: [] });
    expect(plan.summary).toBe("1 key to create, 2 stores to update, 1 key to revoke");
    expect(plan.actions.map((a: { action: string }) => a.action)).toEqual([
      "preflight",
      "create",
      "verify",
      "write",
      "write",
      "await-consumers",
      "revoke",
      "finish",
      "on-failure",
    ]);
    expect(plan.actions[3]).toMatchObject({ action: "write", target: "app-1", to: "new key" });
    expect(plan.actions[3].from).toBe(`SK…${ws.seeded.sid.slice(-4)}`);
    expect(plan.actions[6]).toMatchObject({ action: "revoke", from: `SK…${ws.seeded.sid.slice(-4)}` });
  });
});

describe("plan tells what it cannot know", () => {
  it("an admin credential Twilio refuses leaves the current key's state unknown", async () => {
    const ws = await e2e.workspace(1);
    const run = await runInProcess(cliArgs(ws, "plan"), { env: { ...ws.env, TEST_TWILIO_AUTH_TOKEN: "f".repeat(32) } });
    expect(run.code).toBe(2);
    const plan = JSON.parse(run.stdout);
    expect(plan.steps.join("\n")).toContain("its state in Twilio is unknown (the admin credential was refused)");
    expect(plan.steps.join("\n")).not.toContain("nothing to revoke");
  });

  it("a dotenv store it may not use (mode 0644) is not shown as a first-key setup", async () => {
    const ws = await e2e.workspace(1);
    await chmod(ws.storeFiles[0]!, 0o644);
    const plan = JSON.parse((await runInProcess(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    expect(plan.problems.join("\n")).toContain("mode 0644");
    expect(plan.notes.join("\n")).not.toContain("no store holds a key yet");
    expect(plan.steps.join("\n")).not.toMatch(/nothing to revoke|agree on \(none\)/);
    expect(plan.steps.join("\n")).toContain("unknown (a store could not be read)");
  });
});

describe("confirmation on a terminal", () => {
  it("shows the plan and the young-key warning, and a no is a cancellation that changes nothing (exit 8)", async () => {
    const ws = await e2e.workspace();
    const before = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    const snapshot = JSON.stringify(e2e.emulator.snapshot().keys.map((k) => k.sid));
    const args = ["rotate", "--config", ws.configPath, "--state-dir", ws.stateDir];
    const run = await runInProcess(args, { env: ws.env, tty: true, answer: "n" });
    expect(run.code, run.stderr).toBe(8);
    expect(run.stderr).toContain("rotate will:");
    expect(run.stderr).toContain("1 key to create, 2 stores to update, 1 key to revoke");
    // Made by hand (the workspace's seed key), seconds ago: said so, in minutes, not "rotated less than a day ago".
    expect(run.stderr).toMatch(
      /warning: SK…[0-9a-f]{4} is under a day old: created (less than a minute|\d+ minutes?) ago \(not by rotator: no run in these journals made it\)/,
    );
    expect(run.stderr).toContain("cancelled: you did not confirm, so nothing was changed (exit 8)");
    expect(run.stderr).not.toMatch(/error|✗/);
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(before);
    expect(JSON.stringify(e2e.emulator.snapshot().keys.map((k) => k.sid))).toBe(snapshot);
    expect(existsSync(join(ws.stateDir, "runs")) ? await readdir(join(ws.stateDir, "runs")) : []).toEqual([]);
  });

  it("a yes goes ahead; --yes and a run without a terminal never ask", async () => {
    const ws = await e2e.workspace();
    const args = ["rotate", "--config", ws.configPath, "--state-dir", ws.stateDir];
    const yes = await runInProcess(args, { env: ws.env, tty: true, answer: "y" });
    expect(yes.code, yes.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const flagged = await runInProcess([...args, "--yes"], { env: ws.env, tty: true });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(flagged.stderr).not.toContain("[y/N]");
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const piped = await runInProcess(args, { env: ws.env, tty: false });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).not.toContain("[y/N]");
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });
});

describe("signals stop a run between steps", () => {
  it("Ctrl-C while waiting for consumers: exit 130, nothing revoked, no lock left, and resume finishes it", async () => {
    const ws = await e2e.workspace();
    const ready = await slowConsumer(ws, 60);
    const run = await runInProcess(
      cliArgs(ws, "rotate").filter((a) => a !== "--json"),
      {
        env: ws.env,
        signal: { when: (stderr) => stderr.includes("waiting for 1 consumer(s)") },
      },
    );
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain("SIGINT: finishing the step in progress");
    expect(run.stdout).toContain("interrupted by SIGINT while waiting for consumers");
    expect(run.stdout).toContain("next: `rotator resume` carries the run on from here; `rotator rollback` undoes it");
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect(await lockFiles(ws)).toEqual([]);
    const status = JSON.parse((await runCli(cliArgs(ws, "status"), { env: ws.env })).stdout);
    expect(status.runs.at(-1).status).toBe("interrupted");
    await writeFile(ready, "");
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });

  it("SIGTERM before any store is written undoes the run at once: the new key is deleted, exit 130", async () => {
    const ws = await e2e.workspace();
    const keysBefore = e2e.emulator.keys().map((k) => k.sid);
    e2e.emulator.faults.add({
      kind: "latency",
      latencyMs: 800,
      method: "POST",
      path: "/2010-04-01/Accounts/*/Keys.json",
      times: 1,
    });
    const run = await runInProcess(cliArgs(ws, "rotate"), {
      env: ws.env,
      signal: { when: (stderr) => stderr.includes("creating a new API key"), name: "SIGTERM" },
    });
    expect(run.code, run.stderr).toBe(130);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("rolled-back");
    expect(result.error).toContain("interrupted by SIGTERM before any store held the new key");
    expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keysBefore);
    for (const file of ws.storeFiles) expect((await readStoreKey(file)).sid).toBe(ws.seeded.sid);
    expect(await lockFiles(ws)).toEqual([]);
  });

  it("a real SIGTERM to the process while it waits: exit 130 and a resumable run", async () => {
    const ws = await e2e.workspace();
    await slowConsumer(ws, 60);
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [join(__dirname, "../../bin/rotator.js"), ...cliArgs(ws, "rotate")], {
      env: ws.env as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    await until(async () => stderr.includes("waiting for 1 consumer(s)"), 20_000);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(130);
    expect(JSON.parse(stdout).status).toBe("interrupted");
    expect(await finishedStatuses(ws)).toContain("interrupted");
    expect(await lockFiles(ws)).toEqual([]);
    const rolledBack = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
  });
});

describe("waiting for consumers", () => {
  it("shows elapsed and remaining time in the live block, and the 'not every consumer' warning once", async () => {
    const ws = await e2e.workspace();
    await slowConsumer(ws, 1);
    const args = [...cliArgs(ws, "rotate").filter((a) => a !== "--json"), "--yes"];
    const run = await runInProcess(args, { env: ws.env, tty: true });
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toMatch(/consumers: \d+ s elapsed, \d+ s left/);
    const warnings = (run.stdout + run.stderr).match(/not every consumer uses the new key yet/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect((await runCli(cliArgs(ws, "rollback"), { env: ws.env })).code).toBe(0);
  });
});

describe("a live run is running everywhere", () => {
  it("status, plan and resume say so while a rotate is in preflight, and while it waits for consumers", async () => {
    const ws = await e2e.workspace();
    const ready = await slowConsumer(ws, 60);
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const rotating = runCli(cliArgs(ws, "rotate"), {
      env: { ...ws.env, ROTATOR_PAUSE: "after-lock:rotate", ROTATOR_PAUSE_FILE: pause },
    });
    await until(async () => existsSync(`${pause}.reached`));
    // In preflight: no journal yet, but the locks are held by a live process.
    const inPreflight = JSON.parse((await runCli(cliArgs(ws, "status"), { env: ws.env })).stdout);
    expect(inPreflight.runs.at(-1)).toMatchObject({ command: "rotate", status: "running" });
    const resumeNow = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumeNow.code).toBe(5);
    expect(JSON.parse(resumeNow.stdout).error).toMatch(/another rotator run holds the lock .*\(rotate, pid/);
    const { unlink } = await import("node:fs/promises");
    await unlink(pause);
    // Waiting for consumers: the journal says unfinished, the live lock says running.
    await until(async () => (await journals(ws)).includes('"stores-committed"'), 20_000);
    const waiting = JSON.parse((await runCli(cliArgs(ws, "status"), { env: ws.env })).stdout);
    expect(waiting.runs.at(-1).status).toBe("running");
    const plan = JSON.parse((await runCli(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    expect(plan.problems.join("\n")).toMatch(/is running now/);
    expect(plan.problems.join("\n")).not.toContain("run `rotator resume` first");
    await writeFile(ready, "");
    const done = await rotating;
    expect(done.code, done.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
  });
});
