/**
 * The engine end to end: the real CLI against the Twilio emulator and two dotenv stores. Covers the
 * issue's "done when" list: a full rotation, a failed second write, kill -9 then resume, two concurrent
 * runs, plan changing nothing, and no secret in any output or journal.
 */
import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminClient,
  authenticates,
  cleanup,
  cliArgs,
  ensureBuilt,
  journals,
  makeWorkspace,
  readStoreKey,
  runCli,
  startTwilioEmulator,
  transcript,
  type Workspace,
} from "./harness.js";

type Emulator = Awaited<ReturnType<typeof startTwilioEmulator>>;

let emulator: Emulator;
const workspaces: Workspace[] = [];

async function workspace(stores = 2): Promise<Workspace> {
  const ws = await makeWorkspace(emulator, stores);
  workspaces.push(ws);
  return ws;
}

/** Keys in the account other than ones a test seeded for itself and still expects. */
function accountKeySids(): string[] {
  return emulator.keys().map((k) => k.sid);
}

beforeAll(async () => {
  ensureBuilt();
  emulator = await startTwilioEmulator({ port: 0 });
});

afterAll(async () => {
  // The secret scan: every secret any workspace created or learned, against every byte printed and journaled.
  const secrets = new Set<string>();
  const texts = [...transcript];
  for (const ws of workspaces) {
    for (const s of ws.secrets) secrets.add(s);
    for (const file of ws.storeFiles) {
      const { secret } = await readStoreKey(file).catch(() => ({ secret: undefined }));
      if (secret) secrets.add(secret);
    }
    texts.push(await journals(ws));
  }
  const leaks = [...secrets].filter((secret) => texts.some((text) => text.includes(secret)));
  expect(secrets.size).toBeGreaterThan(workspaces.length);
  expect(leaks).toEqual([]);
  await Promise.all(workspaces.map(cleanup));
  await emulator.close();
});

describe("rotate", () => {
  it("writes the new key to both stores, verifies it, revokes the old one and leaves no other key", async () => {
    const ws = await workspace();
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
    expect(await authenticates(emulator, a!.sid!, a!.secret!)).toBe(true);
    expect(await authenticates(emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(accountKeySids()).toContain(a!.sid);
    expect(accountKeySids()).not.toContain(ws.seeded.sid);
    expect(emulator.keys().filter((k) => k.friendlyName.startsWith("e2e-"))).toHaveLength(1);

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
    // Root ignores permission bits, so make the second store's directory immutable instead: any attempt
    // to create the temp file for the atomic write fails with EPERM.
    const { mkdir, rename, writeFile } = await import("node:fs/promises");
    const lockedDir = `${ws.dir}/locked`;
    await mkdir(lockedDir, { mode: 0o700 });
    const second = `${lockedDir}/app-2.env`;
    await rename(ws.storeFiles[1]!, second);
    ws.storeFiles[1] = second;
    await ws.writeConfig();
    const secondBefore = await readFile(second);
    execFileSync("chattr", ["+i", lockedDir]);
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
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
    expect(await authenticates(emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    await writeFile(`${ws.dir}/.done`, "");
  });
});

describe("crash and resume", () => {
  for (const point of [
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
        expect(await authenticates(emulator, a!.sid!, a!.secret!)).toBe(true);
        expect(accountKeySids()).not.toContain(ws.seeded.sid);
        expect(accountKeySids().filter((sid) => !keysBefore.includes(sid))).toEqual([a!.sid]);
      } else {
        expect(result.status).toBe("rolled-back");
        expect(resumed.code).toBe(3);
        expect(a).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
        expect(await authenticates(emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
        expect(accountKeySids().sort()).toEqual([...keysBefore].sort());
      }
      // Where the secret was written at least once, resume finishes the rotation rather than undoing it.
      if (point !== "after-issue") expect(result.status).toBe("completed");
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
    const twilioBefore = JSON.stringify(emulator.snapshot());
    const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    const run = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.problems).toEqual([]);
    expect(result.steps.join("\n")).toContain(`SK…${ws.seeded.sid.slice(-4)}`);
    expect(result.steps.join("\n")).not.toContain(ws.seeded.sid);
    expect(JSON.stringify(emulator.snapshot())).toBe(twilioBefore);
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
    expect(await journals(ws)).toBe("");
  });

  it("reports drift between stores, like rotate would, and exits 2", async () => {
    const ws = await workspace();
    const other = await adminClient(emulator)
      .api.v2010.accounts(emulator.accountSid)
      .newKeys.create({ friendlyName: "other" });
    ws.secrets.push(other.secret);
    const { writeFile } = await import("node:fs/promises");
    const { envText } = await import("./harness.js");
    await writeFile(ws.storeFiles[1]!, envText(emulator.accountSid, other.sid, other.secret, "app-2"), { mode: 0o600 });
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
