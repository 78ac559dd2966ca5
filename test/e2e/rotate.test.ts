/**
 * The engine end to end: the real CLI against the Twilio emulator and two dotenv stores. Covers the
 * issue's "done when" list: a full rotation, a failed second write, kill -9 then resume, plan changing nothing,
 * and no secret in any output or journal (two concurrent runs: run-lock.test.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { adminClient, authenticates, cliArgs, journals, readStoreKey, runCli, until, useE2e } from "./harness.js";

const e2e = useE2e();

const workspace = (stores?: number) => e2e.workspace(stores);

/** Keys in the account other than ones a test seeded for itself and still expects. */
function accountKeySids(): string[] {
  return e2e.emulator.keys().map((k) => k.sid);
}

afterAll(() => {
  // The scan in useE2e only means something if secrets were issued: at least one per workspace and more.
  expect(e2e.issuedSecrets.size).toBeGreaterThan(e2e.workspaces.length);
});

describe("rotate", () => {
  it("writes the new key to both stores, verifies it, revokes the old one and leaves no other key", async () => {
    const ws = await workspace();
    const keysBefore = accountKeySids();
    const before = await readFile(ws.storeFiles[0]!, "utf8");
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.stderr).toContain("==> ");
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("completed");
    expect(result.stores.map((s: { outcome: string }) => s.outcome)).toEqual(["written", "written"]);
    expect(result.oldKey).toMatch(/^SK…[0-9a-f]{4}$/);

    const [a, b] = await Promise.all(ws.storeFiles.map(readStoreKey));
    ws.secrets.push(a!.secret!);
    expect(a!.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(a!.sid).not.toBe(ws.seeded.sid);
    expect(b).toEqual(a);
    expect(result.newKey).toBe(`SK…${a!.sid!.slice(-4)}`);
    expect(await authenticates(e2e.emulator, a!.sid!, a!.secret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(accountKeySids()).toContain(a!.sid);
    expect(accountKeySids()).not.toContain(ws.seeded.sid);
    expect(accountKeySids().filter((sid) => !keysBefore.includes(sid))).toEqual([a!.sid]);

    // Everything but the three credential lines is kept, including `export`, comments and quotes style.
    const after = await readFile(ws.storeFiles[0]!, "utf8");
    expect(after.split("\n").filter((l) => !/TWILIO_API_(KEY|SECRET)=/.test(l))).toEqual(
      before.split("\n").filter((l) => !/TWILIO_API_(KEY|SECRET)=/.test(l)),
    );
    expect((await stat(ws.storeFiles[0]!)).mode & 0o777).toBe(0o600);

    const journal = await journals(ws);
    const events = journal
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).event);
    expect(events).toEqual([
      "run-started",
      "preflight-passed",
      "issue-started",
      "key-issued",
      "key-verified",
      "store-prepared",
      "store-written",
      "store-prepared",
      "store-written",
      "stores-committed",
      "stores-checked",
      "revoke-started",
      "old-key-revoked",
      "stores-released",
      "run-finished",
    ]);
    const journalFile = `${ws.stateDir}/runs/${result.runId}.jsonl`;
    expect((await stat(journalFile)).mode & 0o777).toBe(0o600);
    // No backup of the old secret is left next to the stores.
    const leftovers = execFileSync("ls", ["-A", dirname(ws.storeFiles[0]!)]).toString();
    expect(leftovers).not.toMatch(/\.bak|\.tmp/);
  });

  it("rolls back when the second store cannot be written: the first is byte-identical, the new key deleted, exit 3", async () => {
    const ws = await workspace();
    const first = await readFile(ws.storeFiles[0]!);
    const keysBefore = accountKeySids().sort();
    // Root ignores permission bits, so the second store's directory is made immutable (chattr +i) instead:
    // creating the temp file for the atomic write then fails with EPERM. It must break after preflight
    // (which would catch it and change nothing), so key creation is slowed and the directory is locked
    // while the run waits for Twilio.
    const lockedDir = join(ws.dir, "locked");
    await mkdir(lockedDir, { mode: 0o700 });
    const second = join(lockedDir, "app-2.env");
    await rename(ws.storeFiles[1]!, second);
    ws.storeFiles[1] = second;
    await ws.writeConfig();
    const secondBefore = await readFile(second);
    e2e.emulator.faults.add({
      kind: "latency",
      latencyMs: 1500,
      method: "POST",
      path: "/2010-04-01/Accounts/*/Keys.json",
      times: 1,
    });
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      const running = runCli(cliArgs(ws, "rotate"), { env: ws.env });
      await until(async () => (await journals(ws)).includes('"issue-started"'));
      execFileSync("chattr", ["+i", lockedDir]);
      run = await running;
    } finally {
      execFileSync("chattr", ["-i", lockedDir]);
    }
    expect(run.code, run.stderr).toBe(3);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("rolled-back");
    expect(result.stores.map((s: { outcome: string }) => s.outcome)).toEqual(["rolled-back", "unchanged"]);
    expect(result.error).toContain("app-2");
    expect(await readFile(ws.storeFiles[0]!)).toEqual(first);
    expect(await readFile(second)).toEqual(secondBefore);
    expect(accountKeySids().sort()).toEqual(keysBefore);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    const events = (await journals(ws))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).event);
    expect(events.slice(events.indexOf("key-verified"))).toEqual([
      "key-verified",
      "store-prepared",
      "store-written",
      "rollback-started",
      "store-rolled-back",
      "key-discarded",
      "stores-released",
      "run-finished",
    ]);
  });

  it("a store already unwritable at preflight stops the run before anything changes, exit 2", async () => {
    const ws = await workspace();
    const keysBefore = accountKeySids().sort();
    const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    execFileSync("chattr", ["+i", ws.dir]);
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(
        ["rotate", "--config", ws.configPath, "--state-dir", join(tmpdir(), `rotator-state-${Date.now()}`), "--json"],
        {
          env: ws.env,
        },
      );
    } finally {
      execFileSync("chattr", ["-i", ws.dir]);
    }
    expect(run.code, run.stderr).toBe(2);
    expect(JSON.parse(run.stdout).error).toContain("app-1");
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
    expect(accountKeySids().sort()).toEqual(keysBefore);
  });
});

describe("crash and resume", () => {
  for (const point of [
    "after-create",
    "after-issue",
    "after-write:app-1",
    "after-prepare:app-2",
    "after-commit",
    "after-revoke-started",
  ]) {
    it(`kill -9 at ${point}, then resume: a consistent end state and no leftover key`, async () => {
      const ws = await workspace();
      const keysBefore = accountKeySids();
      const crashed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: point } });
      expect(crashed.signal).toBe("SIGKILL");

      // A second rotate refuses while the crashed run is unfinished; it names resume.
      const blocked = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
      expect([5, 6]).toContain(blocked.code);
      expect(JSON.parse(blocked.stdout).hint).toContain("rotator resume");

      const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      const result = JSON.parse(resumed.stdout);
      const [a, b] = await Promise.all(ws.storeFiles.map(readStoreKey));
      expect(b).toEqual(a);
      if (result.status === "completed") {
        expect(resumed.code).toBe(0);
        ws.secrets.push(a!.secret!);
        expect(a!.sid).not.toBe(ws.seeded.sid);
        expect(await authenticates(e2e.emulator, a!.sid!, a!.secret!)).toBe(true);
        expect(accountKeySids()).not.toContain(ws.seeded.sid);
        expect(accountKeySids().filter((sid) => !keysBefore.includes(sid))).toEqual([a!.sid]);
      } else {
        expect(result.status).toBe("rolled-back");
        expect(resumed.code).toBe(3);
        expect(a).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
        expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
        expect(accountKeySids().sort()).toEqual([...keysBefore].sort());
      }
      // Where the secret was written at least once, resume finishes the rotation rather than undoing it.
      if (!["after-create", "after-issue"].includes(point)) expect(result.status).toBe("completed");
      else expect(result.status).toBe("rolled-back");

      const again = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      expect(JSON.parse(again.stdout).status).toBe("nothing-to-resume");
      const rotateAfter = await runCli(cliArgs(ws, "plan"), { env: ws.env });
      expect(rotateAfter.code, rotateAfter.stdout).toBe(0);
    });
  }
});

describe("plan", () => {
  it("changes nothing in Twilio or in the stores, and lists the steps with masked identifiers", async () => {
    const ws = await workspace();
    const twilioBefore = JSON.stringify(e2e.emulator.snapshot());
    const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    const run = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.problems).toEqual([]);
    expect(result.steps.join("\n")).toContain(`SK…${ws.seeded.sid.slice(-4)}`);
    expect(result.steps.join("\n")).not.toContain(ws.seeded.sid);
    expect(JSON.stringify(e2e.emulator.snapshot())).toBe(twilioBefore);
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
    expect(await journals(ws)).toBe("");
  });

  it("reports drift between stores, like rotate would, and exits 2", async () => {
    const ws = await workspace();
    const other = await adminClient(e2e.emulator)
      .api.v2010.accounts(e2e.emulator.accountSid)
      .newKeys.create({ friendlyName: "other" });
    ws.secrets.push(other.secret);
    const { writeFile } = await import("node:fs/promises");
    const { envText } = await import("./harness.js");
    await writeFile(ws.storeFiles[1]!, envText(e2e.emulator.accountSid, other.sid, other.secret, "app-2"), {
      mode: 0o600,
    });
    const planned = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(planned.code).toBe(2);
    const problems = JSON.parse(planned.stdout).problems.join("\n");
    expect(problems).toContain("drift");
    expect(problems).toContain(`app-1: SK…${ws.seeded.sid.slice(-4)}`);
    expect(problems).toContain(`app-2: SK…${other.sid.slice(-4)}`);
    const rotated = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.code).toBe(2);
    expect(JSON.parse(rotated.stdout).error).toContain("drift");
  });
});
