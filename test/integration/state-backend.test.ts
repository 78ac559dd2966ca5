/**
 * The state backends against their real stores: the contract (state-contract.ts) for the local state
 * directory and for PostgreSQL (the harness's real server, a database of this file's own), then what only a
 * leased backend has: fencing of a holder stalled past its lease, a database that no rotator wrote to yet left
 * untouched by reads (plan), a role that may not create the tables, and hosts creating them at once.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { lockPath } from "../../src/engine/lock.js";
import { openStateBackend, type StateBackend } from "../../src/engine/state/index.js";
import { LocalStateBackend } from "../../src/engine/state/local.js";
import { freshDatabase, type TestDatabase } from "../harness/postgres.js";
import {
  type BackendUnderTest,
  killHolder,
  rejection,
  startHolder,
  stateBackendContract,
  stores,
  until,
} from "./state-contract.js";

const LEASE_MS = 1_500;
let stateDir = "";
const pools: Array<{ close(): Promise<void> }> = [];
const databases: TestDatabase[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-state-contract-"));
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  await Promise.all(databases.map((db) => db.drop()));
  await rm(stateDir, { recursive: true, force: true });
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase(inject("servers"), "state");
  databases.push(db);
  return db;
}

/** A view of the database at `url`, as one rotator process opens it. */
async function openPostgres(url: string, leaseMs = LEASE_MS): Promise<StateBackend> {
  const pool = await openStateBackend(
    { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: leaseMs / 1000 },
    { stateDir, env: { DATABASE_URL: url }, configFile: "/etc/rotator/contract.yaml" },
  );
  pools.push(pool);
  return pool.view();
}

stateBackendContract("local state directory", () => ({
  kind: "local",
  leaseMs: 0,
  open: async () => new LocalStateBackend(stateDir),
  holderInput: () => ({ backend: "local", stateDir, leaseMs: 0 }),
}));

let shared: TestDatabase | undefined;
stateBackendContract("PostgreSQL", () => {
  beforeAll(async () => {
    shared = await database();
  });
  const url = () => (shared as TestDatabase).url;
  return {
    kind: "postgres",
    leaseMs: LEASE_MS,
    open: () => openPostgres(url()),
    holderInput: () => ({ backend: "postgres", url: url(), stateDir, leaseMs: LEASE_MS }),
  };
});

describe("PostgreSQL state: leases", () => {
  let db: TestDatabase;
  let backend: BackendUnderTest;
  beforeAll(async () => {
    db = await database();
    backend = {
      kind: "postgres",
      leaseMs: LEASE_MS,
      open: () => openPostgres(db.url),
      holderInput: () => ({ backend: "postgres", url: db.url, stateDir, leaseMs: LEASE_MS }),
    };
  });

  it("fences a holder stalled past its lease: once another process took the run over, it cannot append", async () => {
    const held = stores(2);
    const runId = `run-${randomUUID()}`;
    const stalled = await startHolder(backend, held, runId);
    try {
      stalled.child.kill("SIGSTOP");
      const view = await backend.open();
      await until(async () => (await view.inspectLocks(held)).every((s) => s.lock.state === "stale"), LEASE_MS + 5_000);
      const locks = await view.acquireLocks(held, { runId, command: "resume" }, { takeOverStale: true });
      const journal = await view.reopenJournal(runId, "key");
      await journal.append({ event: "resume-started", pid: process.pid, host: "other-host" });
      stalled.child.kill("SIGCONT");
      stalled.send("append");
      const answer = await stalled.next();
      expect(answer).toMatchObject({ exitCode: 5 });
      expect(String(answer.failed)).toMatch(/no longer holds the lease/);
      // The run's journal is the new holder's alone.
      await journal.append({ event: "stores-committed" });
      expect((await view.readRun(runId))?.records.map((r) => r.event)).toEqual([
        "issue-started",
        "resume-started",
        "stores-committed",
      ]);
      await locks.release();
    } finally {
      stalled.child.kill("SIGKILL");
    }
  });

  it("fences a holder stalled past its lease even when no one took over: it does not revive the lease", async () => {
    const held = stores(1);
    const runId = `run-${randomUUID()}`;
    const stalled = await startHolder(backend, held, runId);
    try {
      stalled.child.kill("SIGSTOP");
      const view = await backend.open();
      await until(async () => (await view.inspectLocks(held))[0]?.lock.state === "stale", LEASE_MS + 5_000);
      stalled.child.kill("SIGCONT");
      stalled.send("append");
      expect(await stalled.next()).toMatchObject({ exitCode: 5 });
      // Nor may it change a store: the fence every store change confirms first refuses it too.
      stalled.send("confirm");
      const refused = await stalled.next();
      expect(refused).toMatchObject({ exitCode: 5 });
      expect(String(refused.failed)).toMatch(/no longer holds the lease/);
      // Still stale: what it journaled waits for a resume.
      expect((await view.inspectLocks(held))[0]?.lock.state).toBe("stale");
      expect((await view.readRun(runId))?.records).toHaveLength(1);
    } finally {
      stalled.child.kill("SIGKILL");
    }
  });

  it("a live holder's fence renews its lease and says until when it holds: at most one lease ahead", async () => {
    const held = stores(1);
    const live = await startHolder(backend, held, `run-${randomUUID()}`);
    try {
      live.send("confirm");
      const answer = await live.next();
      expect(answer.confirmed as number).toBeGreaterThan(0);
      expect(answer.confirmed as number).toBeLessThanOrEqual(LEASE_MS);
    } finally {
      live.child.kill("SIGKILL");
    }
  });

  it("a dead holder's lease runs out in about one lease, not before", async () => {
    const view = await backend.open();
    const held = stores(1);
    const dead = await startHolder(backend, held, `run-${randomUUID()}`);
    const killedAt = Date.now();
    await killHolder(backend, view, dead, held);
    const lock = (await view.inspectLocks(held))[0]?.lock;
    expect(lock?.state).toBe("stale");
    expect(lock?.state === "stale" && lock.owner?.leaseUntil).toBeTruthy();
    // A renewal at most a third of a lease before the kill: stale no sooner than two thirds of a lease after.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual((LEASE_MS * 2) / 3 - 100);
  });
});

describe("local state: a lock taken from its holder", () => {
  it("the holder appends nothing more and its fence refuses every store change (exit 5); its release leaves the new holder's lock", async () => {
    const local: BackendUnderTest = {
      kind: "local",
      leaseMs: 0,
      open: async () => new LocalStateBackend(stateDir),
      holderInput: () => ({ backend: "local", stateDir, leaseMs: 0 }),
    };
    const held = stores(1);
    const runId = `run-${randomUUID()}`;
    const holder = await startHolder(local, held, runId);
    try {
      holder.send("confirm");
      // No lease: held until taken from it (Infinity, which JSON writes as null).
      expect(await holder.next()).toMatchObject({ confirmed: null });
      // An operator removes the lock of a process that is alive (frozen, say), and another run takes it.
      await rm(lockPath(stateDir, held[0]?.identity as string));
      const view = await local.open();
      const locks = await view.acquireLocks(held, { runId: `other-${randomUUID()}`, command: "rotate" });
      for (const step of ["append", "confirm"]) {
        holder.send(step);
        const answer = await holder.next();
        expect(answer, step).toMatchObject({ exitCode: 5 });
        expect(String(answer.failed), step).toMatch(/no longer holds its lock .* \(it is held by run other-/);
      }
      holder.send("release");
      expect(await holder.next()).toMatchObject({ released: true });
      expect((await view.inspectLocks(held))[0]?.lock.state).toBe("held");
      expect((await view.readRun(runId))?.records.map((r) => r.event)).toEqual(["issue-started"]);
      await locks.release();
    } finally {
      holder.child.kill("SIGKILL");
    }
  });
});

describe("PostgreSQL state: the database", () => {
  it("creates nothing until a command writes: open, problem() and every read leave an empty database empty", async () => {
    const db = await database();
    const view = await openPostgres(db.url);
    expect(await view.problem()).toBeUndefined();
    expect(await view.listRuns()).toEqual([]);
    expect(await view.readRun("nope")).toBeUndefined();
    expect((await view.inspectLocks(stores(1)))[0]?.lock.state).toBe("free");
    expect(await view.liveRunIds()).toEqual(new Set());
    const tables = await db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    expect(tables.rows).toEqual([]);
    // The first write makes the tables.
    const locks = await view.acquireLocks(stores(1), { runId: "r", command: "rotate" });
    await locks.release();
    const after = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    expect(after.rows.map((r) => r.table_name)).toEqual([
      "rotator_journal",
      "rotator_locks",
      "rotator_meta",
      "rotator_runs",
    ]);
  });

  it("tells plan what a role lacks: to create the tables, then to write them", async () => {
    const db = await database();
    const endpoints = inject("servers");
    const role = `ro_${randomUUID().slice(0, 8)}`;
    const password = `pw${randomUUID().replace(/-/g, "")}`;
    const admin = new pg.Client({ connectionString: endpoints.postgres.url.replace(/\/postgres$/, `/${db.database}`) });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      const url = `postgres://${role}:${password}@${endpoints.postgres.host}:${endpoints.postgres.port}/${db.database}`;
      const view = await openPostgres(url);
      expect(await view.problem()).toMatch(/may not create rotator's tables in schema public/);
      // Once the owner made them, a role that may only read them is told which rights it lacks.
      const owner = await openPostgres(db.url);
      await (await owner.acquireLocks(stores(1), { runId: "r", command: "rotate" })).release();
      await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      const problem = await view.problem();
      expect(problem).toMatch(/the role lacks INSERT on rotator_runs/);
      expect(problem).toMatch(/DELETE on rotator_locks/);
      expect(problem).not.toContain(password);
    } finally {
      await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.end();
      await db.drop().catch(() => {});
      databases.splice(databases.indexOf(db), 1);
      const su = new pg.Client({ connectionString: endpoints.postgres.url });
      await su.connect();
      await su.query(`DROP ROLE IF EXISTS ${role}`);
      await su.end();
    }
  });

  it("makes the tables once when several hosts write first at the same moment", async () => {
    const db = await database();
    const views = await Promise.all([1, 2, 3, 4].map(() => openPostgres(db.url)));
    const held = await Promise.all(
      views.map((view, i) => view.acquireLocks(stores(1), { runId: `r${i}`, command: "rotate" })),
    );
    await Promise.all(held.map((locks) => locks.release()));
    const meta = await db.query("SELECT value FROM rotator_meta WHERE key = 'instance_id'");
    expect(meta.rows).toHaveLength(1);
    expect(new Set(views.map((view) => view.claimOrigin().database))).toEqual(new Set([meta.rows[0]?.value]));
  });

  it("refuses a database it cannot use with exit 2, never showing the password", async () => {
    const db = await database();
    const wrong = db.url.replace(db.password, `${db.password}x`);
    const error = await rejection(openPostgres(wrong));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/password authentication failed/);
    expect(error.message).toContain("named by state.url in /etc/rotator/contract.yaml (from DATABASE_URL)");
    expect(`${error.message} ${error.hint}`).not.toContain(db.password);
    const unreachable = await rejection(openPostgres("postgres://someone:hunter2hunter2@127.0.0.1:1/rotator"));
    expect(unreachable.exitCode).toBe(2);
    expect(unreachable.message).toContain("127.0.0.1:1/rotator");
    expect(`${unreachable.message} ${unreachable.hint}`).not.toContain("hunter2hunter2");
    const notUrl = await rejection(openPostgres("host=db password=hunter2hunter2"));
    expect(notUrl.exitCode).toBe(2);
    expect(notUrl.message).toContain("DATABASE_URL does not hold a postgres:// URL");
    expect(`${notUrl.message} ${notUrl.hint}`).not.toContain("hunter2hunter2");
  });
});
