import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isUnfinished, Journal, listRuns, newRunId, readJournal } from "../../src/engine/journal.js";
import { inspectLock, inspectLocks, lockPath, overallLockState, StoreLocks } from "../../src/engine/lock.js";
import { RotatorError } from "../../src/errors.js";
import { clearRegisteredSecrets, registerSecret } from "../../src/util/mask.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rotator-state-"));
});
afterEach(async () => {
  clearRegisteredSecrets();
  await rm(dir, { recursive: true, force: true });
});

const A = { name: "app-1", identity: "dotenv-file:dotenv file /etc/app-1.env" };
const B = { name: "app-2", identity: "dotenv-file:dotenv file /etc/app-2.env" };
const C = { name: "vault", identity: "vault-kv2:Vault KV v2 secret secret/twilio at https://vault:8200" };

function caught(action: () => unknown): RotatorError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(RotatorError);
    return error as RotatorError;
  }
  throw new Error("expected a RotatorError");
}

describe("store locks", () => {
  it("a second acquire fails with the owner named, and works again after release", () => {
    const lock = StoreLocks.acquire(dir, [A], { runId: "r1", command: "rotate", configFile: "/x.yaml" });
    const error = caught(() => StoreLocks.acquire(dir, [A], { runId: "r2", command: "rotate" }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("another rotator run holds the lock of store app-1");
    expect(error.message).toContain("run r1");
    expect(error.message).toContain("/x.yaml");
    lock.release();
    StoreLocks.acquire(dir, [A], { runId: "r3", command: "rotate" }).release();
  });

  it("one lock per store: configs sharing any store exclude each other, disjoint ones do not", () => {
    const x = StoreLocks.acquire(dir, [A, B], { runId: "x", command: "rotate" });
    expect(x.paths).toHaveLength(2);
    // Y names only app-2 (and another store): it still meets X's lock.
    expect(caught(() => StoreLocks.acquire(dir, [C, B], { runId: "y", command: "rotate" })).message).toContain(
      "store app-2",
    );
    // All or nothing: Y took vault's lock before it met app-2's, and gave it back.
    expect(inspectLock(dir, C.identity).state).toBe("free");
    const z = StoreLocks.acquire(dir, [C], { runId: "z", command: "rotate" });
    expect(overallLockState(inspectLocks(dir, [A, B, C]))).toBe("held");
    x.release();
    z.release();
    expect(inspectLocks(dir, [A, B, C]).map((l) => l.lock.state)).toEqual(["free", "free", "free"]);
  });

  it("a store named twice is locked once, and lock files are named by identity, not by config", () => {
    const lock = StoreLocks.acquire(dir, [A, { ...A, name: "again" }], { runId: "r", command: "rotate" });
    expect(lock.paths).toEqual([lockPath(dir, A.identity)]);
    expect(lockPath(dir, A.identity)).toMatch(/\/locks\/dotenv-file-[0-9a-f]{16}\.lock$/);
    expect(lockPath(dir, A.identity)).not.toBe(lockPath(dir, B.identity));
    lock.release();
  });

  it("a lock left by a dead process is stale: reported with how to clear it, taken over only by resume", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    const path = lockPath(dir, A.identity);
    StoreLocks.acquire(dir, [A], { runId: "r0", command: "rotate", configFile: "/x.yaml" });
    const owner = JSON.parse(await readFile(path, "utf8"));
    expect(owner).toMatchObject({ runId: "r0", store: A.identity, configFile: "/x.yaml" });
    await writeFile(path, JSON.stringify({ ...owner, pid: Number(dead) }));
    expect(inspectLock(dir, A.identity).state).toBe("stale");
    expect(overallLockState(inspectLocks(dir, [A, B]))).toBe("stale");
    const error = caught(() => StoreLocks.acquire(dir, [A, B], { runId: "r1", command: "rotate" }));
    expect(error.message).toMatch(/stale lock of store app-1/);
    expect(error.exitCode).toBe(5);
    expect(error.hint).toContain("rotator resume --config /x.yaml");
    expect(error.hint).toContain(path);
    expect(inspectLock(dir, B.identity).state).toBe("free");
    const taken = StoreLocks.acquire(dir, [A, B], { runId: "r1", command: "resume" }, { takeOverStale: true });
    expect(inspectLock(dir, A.identity).state).toBe("held");
    taken.release();
    expect(inspectLock(dir, A.identity).state).toBe("free");
  });
});

describe("state directory", () => {
  it("one that cannot be created is bad input (exit 2) naming it, for locks and journals alike", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const stateDir = join(file, "state");
    for (const action of [
      () => StoreLocks.acquire(stateDir, [A], { runId: "r", command: "rotate" }),
      () => Journal.create(stateDir, newRunId()),
    ]) {
      const error = caught(action);
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`cannot use the state directory ${stateDir}`);
      expect(error.message).toContain("ENOTDIR");
      expect(error.hint).toContain("--state-dir");
    }
  });
});

describe("journal", () => {
  it("is 0600, append-only JSON lines, and redacts any registered secret", async () => {
    const secret = "s3cr3t-value-that-must-not-leak";
    registerSecret(secret);
    const journal = Journal.create(dir, newRunId());
    journal.append({ event: "rollback-started", reason: `oops ${secret}` });
    journal.append({ event: "stores-committed" });
    expect((await stat(journal.path)).mode & 0o777).toBe(0o600);
    const text = await readFile(journal.path, "utf8");
    expect(text).not.toContain(secret);
    expect(readJournal(journal.path).map((r) => [r.seq, r.event])).toEqual([
      [1, "rollback-started"],
      [2, "stores-committed"],
    ]);
  });

  it("ignores a torn last line from a crash", async () => {
    const journal = Journal.create(dir, newRunId());
    journal.append({ event: "stores-committed" });
    await writeFile(journal.path, `${await readFile(journal.path, "utf8")}{"event":"rev`);
    expect(readJournal(journal.path)).toHaveLength(1);
    expect(Journal.reopen(dir, journal.runId).append({ event: "stores-released" }).seq).toBe(2);
  });

  it("a run is unfinished until it records an outcome, or when it failed with a next step", () => {
    const journal = Journal.create(dir, newRunId());
    journal.append({
      event: "run-started",
      command: "rotate",
      credentialKey: "k",
      accountSid: "AC",
      credentialType: "api-key",
      keyType: "standard",
      stores: [],
      pid: 1,
      host: "h",
      version: "0",
    });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(true);
    journal.append({ event: "run-finished", status: "failed", exitCode: 7, next: "resume" });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(true);
    journal.append({ event: "run-finished", status: "completed", exitCode: 0 });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(false);
  });
});

describe("taking over a stale lock", () => {
  it("removes the stale lock it inspected, but never a fresh lock another taker put there meanwhile", async () => {
    const { takeOverStale } = await import("../../src/engine/lock.js");
    const { existsSync } = await import("node:fs");
    const path = join(dir, "x.lock");
    const stale = { pid: 999_999, host: "h", runId: "r0", command: "rotate", since: "2026-01-01T00:00:00.000Z" };
    await writeFile(path, JSON.stringify(stale));
    takeOverStale(path, stale);
    expect(existsSync(path)).toBe(false);

    // A second taker inspected the same stale lock, but the first has already replaced it with its own.
    const fresh = { ...stale, pid: process.pid, runId: "r1", command: "resume", since: new Date().toISOString() };
    await writeFile(path, JSON.stringify(fresh));
    takeOverStale(path, stale);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual(fresh);
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(dir).filter((name) => name.includes("takeover"))).toEqual([]);
  });
});

describe("run ids", () => {
  it("sort in the order runs started, also within one second", () => {
    const second = Date.UTC(2026, 11, 6, 7, 30, 0);
    const ids = [0, 1, 250, 500, 998, 999].map((ms) => newRunId(new Date(second + ms)));
    for (const id of ids) expect(id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(newRunId(new Date(second + 1000)) > ids.at(-1)!).toBe(true);
  });
});
