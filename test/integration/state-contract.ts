/**
 * The StateBackend contract (src/engine/state/backend.ts), one suite that every backend's test calls against
 * its real store: the local state directory on this disk, PostgreSQL on the harness's real server. Dead and
 * stalled holders are real processes (fixtures/state-holder.ts) killed with SIGKILL or stopped with SIGSTOP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { KnownConfig } from "../../src/engine/known-configs.js";
import type { StoreRef } from "../../src/engine/lock.js";
import type { StateBackend } from "../../src/engine/state/index.js";
import { RotatorError } from "../../src/errors.js";
import { packageRoot } from "../../src/util/package-root.js";

const root = packageRoot();
const TSX_LOADER = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href;
const HOLDER = join(root, "test/integration/fixtures/state-holder.ts");

export interface BackendUnderTest {
  kind: "local" | "postgres";
  /** How long a dead holder's locks stay held (its lease); 0 when they are stale as soon as it is gone. */
  leaseMs: number;
  /** A new view of the state, as another process (another host, for PostgreSQL) has it. */
  open(): Promise<StateBackend>;
  /** What the holder process needs to open the same state (fixtures/state-holder.ts HolderInput). */
  holderInput(): { backend: "local" | "postgres"; url?: string; stateDir: string; leaseMs: number };
}

export interface Holder {
  child: ChildProcess;
  /** The next JSON line the holder printed. */
  next(): Promise<Record<string, unknown>>;
  send(line: string): void;
  exited: Promise<void>;
}

export function stores(count: number): StoreRef[] {
  const dir = `/srv/contract-${randomUUID()}`;
  return Array.from({ length: count }, (_, i) => ({
    name: `app-${i + 1}`,
    identity: `dotenv-file:${dir}/app-${i + 1}.env`,
  }));
}

const CONFIG = "/etc/rotator/contract.yaml";
const request = (runId: string, command = "rotate") => ({ runId, command, configFile: CONFIG });

async function rejection(promise: Promise<unknown>): Promise<RotatorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RotatorError);
  return error as RotatorError;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Start a holder of `held` for run `runId`, and wait until it holds them with its journal begun. */
export async function startHolder(backend: BackendUnderTest, held: StoreRef[], runId: string): Promise<Holder> {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, HOLDER], {
    cwd: root,
    env: {
      ...process.env,
      STATE_HOLDER: JSON.stringify({ ...backend.holderInput(), stores: held, runId, configFile: CONFIG }),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    const wake = waiting.shift();
    if (wake) wake(line);
    else lines.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const holder: Holder = {
    child,
    exited,
    next: () =>
      new Promise((resolve, reject) => {
        const line = lines.shift();
        if (line !== undefined) return resolve(line);
        waiting.push(resolve);
        void exited.then(() => setTimeout(() => reject(new Error(`the holder exited: ${stderr}`)), 100));
      }),
    send: (line) => child.stdin?.write(`${line}\n`),
  };
  expect(await holder.next()).toMatchObject({ ready: true });
  return holder;
}

/** Kill the holder with SIGKILL and wait until its locks are stale (its lease ran out, for PostgreSQL). */
async function killHolder(backend: BackendUnderTest, view: StateBackend, holder: Holder, held: StoreRef[]) {
  holder.child.kill("SIGKILL");
  await holder.exited;
  await until(
    async () => (await view.inspectLocks(held)).every((s) => s.lock.state === "stale"),
    backend.leaseMs + 5_000,
  );
}

export function stateBackendContract(name: string, make: () => BackendUnderTest): void {
  describe(`StateBackend contract: ${name}`, () => {
    const backend = make();
    const children: ChildProcess[] = [];
    afterAll(() => {
      for (const child of children) child.kill("SIGKILL");
    });
    const holder = async (held: StoreRef[], runId: string) => {
      const h = await startHolder(backend, held, runId);
      children.push(h.child);
      return h;
    };

    it("keeps a journal in order, readable by another process, and refuses a run id twice", async () => {
      const [a, b] = [await backend.open(), await backend.open()];
      const held = stores(2);
      const runId = `run-${randomUUID()}`;
      const locks = await a.acquireLocks(held, request(runId));
      const journal = await a.createJournal(runId, "key");
      await journal.append({ event: "issue-started", friendlyName: "contract" });
      await journal.append({
        event: "credential-issued",
        newId: "SK0123456789abcdef0123456789abcdef",
        createdAt: "now",
      });
      await journal.append({ event: "stores-committed" });
      const mine = await journal.records();
      expect(mine.map((r) => [r.seq, r.event])).toEqual([
        [1, "issue-started"],
        [2, "credential-issued"],
        [3, "stores-committed"],
      ]);
      const theirs = await b.readRun(runId);
      expect(theirs?.records.map((r) => r.event)).toEqual(["issue-started", "credential-issued", "stores-committed"]);
      expect(theirs?.records[1]).toMatchObject({ newId: "SK0123456789abcdef0123456789abcdef" });
      expect((await b.listRuns()).map((run) => run.runId)).toContain(runId);
      expect(await b.readRun(`run-${randomUUID()}`)).toBeUndefined();
      await expect(a.createJournal(runId, "key")).rejects.toThrow();
      // Reopened (resume), it appends after the last record.
      const reopened = await b.reopenJournal(runId, "key");
      await locks.release();
      const again = await b.acquireLocks(held, request(runId, "resume"));
      await reopened.append({ event: "resume-started", pid: process.pid, host: "contract" });
      await again.release();
      expect((await a.readRun(runId))?.records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    });

    it("keeps appends asked for at once in the order asked (one sequence number each, none lost)", async () => {
      const [a, b] = [await backend.open(), await backend.open()];
      const held = stores(1);
      const runId = `run-${randomUUID()}`;
      const locks = await a.acquireLocks(held, request(runId));
      try {
        const journal = await a.createJournal(runId, "key");
        const reasons = Array.from({ length: 12 }, (_, i) => `reason ${i}`);
        const records = await Promise.all(
          reasons.map((reason) => journal.append({ event: "rollback-started", reason })),
        );
        expect(records.map((r) => r.seq)).toEqual(reasons.map((_, i) => i + 1));
        const read = (await b.readRun(runId))?.records ?? [];
        expect(read.map((r) => [r.seq, r.event === "rollback-started" ? r.reason : r.event])).toEqual(
          reasons.map((reason, i) => [i + 1, reason]),
        );
      } finally {
        await locks.release();
      }
    });

    it("takes every store's lock or none, and names the holder", async () => {
      const [a, b] = [await backend.open(), await backend.open()];
      const [s1, s2, s3] = stores(3) as [StoreRef, StoreRef, StoreRef];
      const runA = `run-${randomUUID()}`;
      const held = await a.acquireLocks([s1, s2], request(runA));
      const error = await rejection(b.acquireLocks([s3, s2], request(`run-${randomUUID()}`)));
      expect(error.exitCode).toBe(5);
      expect(error.message).toContain(runA);
      expect(error.message).toContain("store app-2");
      // All or nothing: the free store of the refused set was not kept.
      expect((await a.inspectLocks([s3]))[0]?.lock.state).toBe("free");
      await held.release();
      const runB = `run-${randomUUID()}`;
      const taken = await b.acquireLocks([s3, s2], request(runB));
      const seen = await a.inspectLocks([s1, s2, s3]);
      expect(seen.map((s) => s.lock.state)).toEqual(["free", "held", "held"]);
      expect(seen[1]?.lock.state === "held" && seen[1].lock.owner.runId).toBe(runB);
      expect(await a.liveRunIds()).toContain(runB);
      await taken.release();
      expect((await a.inspectLocks([s2, s3])).map((s) => s.lock.state)).toEqual(["free", "free"]);
    });

    it("never gives one store two holders: views racing for overlapping sets in any order", async () => {
      const views = await Promise.all([backend.open(), backend.open(), backend.open(), backend.open()]);
      const [s1, s2, s3] = stores(3) as [StoreRef, StoreRef, StoreRef];
      // Every set shares s2, each in another order: the fixed order means no two takers wait crosswise.
      const sets = [
        [s1, s2],
        [s2, s1, s3],
        [s3, s2],
        [s2, s3, s1],
      ];
      for (let round = 0; round < 5; round++) {
        const results = await Promise.allSettled(
          views.map((view, i) => view.acquireLocks(sets[i] as StoreRef[], request(`run-${round}-${i}`))),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const lost of results.filter((r) => r.status === "rejected")) {
          expect((lost.reason as RotatorError).exitCode).toBe(5);
        }
        await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      }
    });

    it("reports a dead holder's locks as stale to rotate (exit 5, naming resume), durable journal and all", async () => {
      const view = await backend.open();
      const held = stores(2);
      const runId = `run-${randomUUID()}`;
      const dead = await holder(held, runId);
      await killHolder(backend, view, dead, held);
      const error = await rejection(view.acquireLocks(held, request(`run-${randomUUID()}`)));
      expect(error.exitCode).toBe(5);
      expect(error.message).toMatch(/stale lock/);
      expect(error.message).toContain(runId);
      expect(error.hint).toContain(`rotator resume --config ${CONFIG}`);
      expect(await view.liveRunIds()).not.toContain(runId);
      // What it journaled before it died is there for resume.
      expect((await view.readRun(runId))?.records.map((r) => r.event)).toEqual(["issue-started"]);
    });

    it("lets resume take a dead holder's locks over, exactly one of two taking at once", async () => {
      const [a, b, c] = [await backend.open(), await backend.open(), await backend.open()];
      const held = stores(2);
      const dead = await holder(held, `run-${randomUUID()}`);
      await killHolder(backend, c, dead, held);
      const results = await Promise.allSettled([
        a.acquireLocks(held, request("resume-a", "resume"), { takeOverStale: true }),
        b.acquireLocks(held, request("resume-b", "resume"), { takeOverStale: true }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect((lost.reason as RotatorError).exitCode).toBe(5);
      expect((lost.reason as RotatorError).message).toMatch(/holds the lock/);
      const owners = (await c.inspectLocks(held)).map((s) =>
        s.lock.state === "held" ? s.lock.owner.runId : s.lock.state,
      );
      expect(new Set(owners).size).toBe(1);
      expect(["resume-a", "resume-b"]).toContain(owners[0]);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    });

    it("never takes a live holder's locks, however long resume waits", async () => {
      const view = await backend.open();
      const held = stores(1);
      const runId = `run-${randomUUID()}`;
      const live = await holder(held, runId);
      const started = Date.now();
      const error = await rejection(view.acquireLocks(held, request("resume-x", "resume"), { takeOverStale: true }));
      expect(error.exitCode).toBe(5);
      expect(error.message).toContain(runId);
      // It waited at least the holder's lease (a dead one's would have run out), and the holder renewed it.
      expect(Date.now() - started).toBeGreaterThanOrEqual(backend.leaseMs);
      expect(await view.liveRunIds()).toContain(runId);
      live.send("append");
      expect(await live.next()).toMatchObject({ appended: 2 });
      live.send("release");
      expect(await live.next()).toMatchObject({ released: true });
      expect((await view.inspectLocks(held))[0]?.lock.state).toBe("free");
      live.child.kill("SIGKILL");
    });

    it("records configs by the stores they name: another view finds them, a later record replaces the earlier", async () => {
      const [a, b] = [await backend.open(), await backend.open()];
      const [s1, s2, s3] = stores(3) as [StoreRef, StoreRef, StoreRef];
      const config = (id: string, named: StoreRef[]): KnownConfig => ({
        id,
        configFile: `/etc/rotator/${id}.yaml`,
        host: "contract-host",
        credentialKey: `key-${id}`,
        accountSid: `AC${"0".repeat(32)}`,
        credentialType: "api-key",
        baseDir: "/etc/rotator",
        stores: named.map((ref) => ({
          name: ref.name,
          type: "dotenv-file",
          location: ref.identity,
          identity: ref.identity,
          entry: { name: ref.name, type: "dotenv-file", path: `/srv/${ref.name}.env` },
        })),
        seenAt: new Date().toISOString(),
      });
      const x = `x-${randomUUID().slice(0, 8)}`;
      const y = `y-${randomUUID().slice(0, 8)}`;
      await a.noteConfig(config(x, [s1, s2]));
      await a.noteConfig(config(y, [s1, s3]));
      const ids = async (ref: StoreRef) => (await b.knownConfigs({ store: ref.identity })).map((c) => c.id).sort();
      expect(await ids(s1)).toEqual([x, y].sort());
      expect(await ids(s2)).toEqual([x]);
      const { seenAt: _seen, ...recorded } = config(y, [s1, s3]);
      expect(await b.knownConfigs({ store: s3.identity })).toEqual([{ ...recorded, seenAt: expect.any(String) }]);
      // X now names S3 instead of S2: its record says so wherever it is found (S2's entry may linger).
      await b.noteConfig(config(x, [s1, s3]));
      expect(await ids(s3)).toEqual([x, y].sort());
      for (const found of await a.knownConfigs({ store: s2.identity })) {
        expect(found.stores.map((store) => store.identity)).toEqual([s1.identity, s3.identity]);
      }
      expect(await a.knownConfigs({ store: stores(1)[0]!.identity })).toEqual([]);
      expect((await b.knownConfigs({ credentialKey: `key-${y}` })).map((c) => c.id)).toEqual([y]);
    });
  });
}

export { killHolder, rejection, until };
