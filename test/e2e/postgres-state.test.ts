/**
 * State on PostgreSQL end to end (`state: { backend: postgres, url: { env: DATABASE_URL } }`): the real CLI in
 * child processes, each "host" a process in a UTS namespace of its own (its own hostname, so the runs it records
 * and the locks it holds say where they came from), each with a local state directory of its own, all pointing at
 * one database on the harness's real PostgreSQL server.
 *
 * - two hosts racing `rotate` on configs sharing the stores: exactly one rotates, the other exits 5 naming it;
 * - kill -9 of the lease holder mid-run: while its lease runs, and after, `rotate` elsewhere is refused (exit 5,
 *   then naming `resume`); `resume` on the other host takes the run over and finishes it: one new key in every
 *   store, the old one revoked once, no second rotation; `status` on either host shows both hosts' runs;
 * - bad `state:` (no DATABASE_URL, a database that is not there, a wrong password): exit 2 naming the config,
 *   nothing changed; `plan` and `status` on an empty database create nothing;
 * - the secret scan covers the journal rows too, and the database password is never printed.
 */
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freshDatabase, type TestDatabase } from "../harness/postgres.js";
import {
  authenticates,
  type CliRun,
  readStoreKey,
  secretLeaks,
  transcript,
  until,
  useE2e,
  type Workspace,
} from "./harness.js";
import { type Host, json, runOn, twoHosts as sharedTwoHosts, startOn } from "./hosts.js";

const e2e = useE2e();
const LEASE_SECONDS = 2;
/** Long enough that a CLI started right after the kill surely finds the dead holder's lease still running. */
const CRASH_LEASE_SECONDS = 6;
const databases: TestDatabase[] = [];
const journalRows: string[] = [];

e2e.onTeardown(async () => {
  // Every journal row and every byte printed, against every secret issued, and the database passwords.
  for (const db of databases) {
    const rows = await db.query("SELECT record::text AS text FROM rotator_journal").catch(() => ({ rows: [] }));
    journalRows.push(...rows.rows.map((row) => String(row.text)));
  }
  expect(journalRows.length).toBeGreaterThan(10);
  expect(await secretLeaks(e2e.issuedSecrets, e2e.workspaces, journalRows)).toEqual([]);
  for (const db of databases) {
    expect(transcript.some((text) => text.includes(db.password))).toBe(false);
    expect(journalRows.some((text) => text.includes(db.password))).toBe(false);
  }
  await Promise.all(databases.map((db) => db.drop()));
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase(inject("servers"), "e2e");
  databases.push(db);
  return db;
}

/** Two hosts for one workspace, sharing the database (see hosts.ts). */
function twoHosts(ws: Workspace, db: TestDatabase, leaseSeconds = LEASE_SECONDS): Promise<[Host, Host]> {
  return sharedTwoHosts(ws, db, leaseSeconds);
}

/** The account's keys that are not other workspaces' (the emulator's account is the file's, shared). */
function keysOf(ws: Workspace): () => string[] {
  const others = new Set(e2e.emulator.keys().map((k) => k.sid));
  others.delete(ws.seeded.sid);
  return () =>
    e2e.emulator
      .keys()
      .map((k) => k.sid)
      .filter((sid) => !others.has(sid));
}

async function storeKeys(ws: Workspace) {
  return Promise.all(ws.storeFiles.map(readStoreKey));
}

async function rotatorTables(db: TestDatabase): Promise<string[]> {
  const result = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
  );
  return result.rows.map((row) => row.table_name);
}

async function events(db: TestDatabase, runId: string): Promise<Array<Record<string, unknown>>> {
  const result = await db.query<{ record: Record<string, unknown> }>(
    "SELECT record FROM rotator_journal WHERE run_id = $1 ORDER BY seq",
    [runId],
  );
  return result.rows.map((row) => row.record);
}

describe("state on PostgreSQL, two hosts", () => {
  it("two hosts racing rotate on configs sharing the stores: exactly one rotates, the other exits 5 naming it", async () => {
    const ws = await e2e.workspace(2);
    const db = await database();
    const [a, b] = await twoHosts(ws, db);
    const keys = keysOf(ws);
    // Each pauses once it holds the locks, so the two runs surely overlap: whoever got the locks waits there.
    const pauses = [join(ws.dir, "pause-a"), join(ws.dir, "pause-b")];
    await Promise.all(pauses.map((file) => writeFile(file, "")));
    const racing = [a, b].map((host, i) =>
      runOn(host.name, ["rotate", "--config", host.config, "--state-dir", host.stateDir, "--json"], {
        ...host.env,
        ROTATOR_PAUSE: "after-lock:rotate",
        ROTATOR_PAUSE_FILE: pauses[i],
      }),
    );
    await until(async () => pauses.some((file) => existsSync(`${file}.reached`)), 30_000);
    const winner = existsSync(`${pauses[0]}.reached`) ? 0 : 1;
    const loser = await (racing[1 - winner] as Promise<CliRun>);
    await Promise.all(pauses.map((file) => rm(file, { force: true })));
    const won = await (racing[winner] as Promise<CliRun>);

    expect(won.code, won.stderr).toBe(0);
    expect(existsSync(`${pauses[1 - winner]}.reached`)).toBe(false);
    expect(loser.code, loser.stderr).toBe(5);
    const refusal = json(loser);
    const winnerRun = String(json(won).runId);
    const winnerHost = [a, b][winner]?.name ?? "";
    expect(refusal.error).toContain("another rotator run holds the lock of store app-");
    expect(refusal.error).toContain(`run ${winnerRun} (rotate, pid`);
    expect(refusal.error).toContain(`on ${winnerHost}`);
    expect(refusal.hint).toContain("from any host");

    // One rotation: one new key, in both stores, the seed revoked; the loser left no run behind.
    const [k1, k2] = await storeKeys(ws);
    expect(k2).toEqual(k1);
    expect(keys()).toEqual([k1?.sid]);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect((await db.query("SELECT run_id FROM rotator_runs")).rows).toEqual([{ run_id: winnerRun }]);
    expect((await db.query("SELECT * FROM rotator_locks")).rows).toEqual([]);
  });

  it("kill -9 of the lease holder mid-run: resume on the other host takes over after the lease and finishes once", async () => {
    const ws = await e2e.workspace(2);
    const db = await database();
    const [a, b] = await twoHosts(ws, db, CRASH_LEASE_SECONDS);
    const keys = keysOf(ws);
    // A first rotation on host B, so status has runs of two hosts to show.
    const first = await b.run("rotate");
    expect(first.code, first.stderr).toBe(0);
    const firstRun = String(json(first).runId);
    const [before] = await storeKeys(ws);

    // Host A is killed (SIGKILL) right after writing the first store: the lease holder is gone mid-run.
    const crashed = await runOn(a.name, ["rotate", "--config", a.config, "--state-dir", a.stateDir, "--json"], {
      ...a.env,
      ROTATOR_FAILPOINT: "after-write:app-1",
    });
    expect(crashed.signal).toBe("SIGKILL");
    const crashedRun = (
      await db.query<{ run_id: string }>("SELECT run_id FROM rotator_runs WHERE run_id <> $1", [firstRun])
    ).rows[0]?.run_id as string;
    expect(crashedRun).toBeDefined();
    const keysAfterCrash = keys();
    expect(keysAfterCrash).toHaveLength(2);

    // While the dead holder's lease runs, rotate on B is refused as held; once it ran out, as stale (resume).
    const whileLeased = await b.run("rotate");
    expect(whileLeased.code, whileLeased.stderr).toBe(5);
    expect(json(whileLeased).error).toMatch(
      new RegExp(`holds the lock of store app-\\d .*run ${crashedRun} \\(rotate, pid \\d+ on ${a.name}`),
    );
    await until(
      async () => (await db.query("SELECT 1 FROM rotator_locks WHERE expires_at > now()")).rows.length === 0,
      CRASH_LEASE_SECONDS * 1000 + 5_000,
    );
    const afterLease = await b.run("rotate");
    expect(afterLease.code, afterLease.stderr).toBe(5);
    expect(json(afterLease).error).toMatch(/a stale lock of store app-\d .* whose lease ran out/);
    expect(json(afterLease).hint).toContain(`rotator resume --config ${a.config}`);
    // Neither refusal created anything.
    expect(keys()).toEqual(keysAfterCrash);

    // Resume on B, with B's own state directory and config, takes the run over and finishes it.
    const resumed = await b.run("resume");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(resumed)).toMatchObject({ status: "completed", runId: crashedRun });
    const [k1, k2] = await storeKeys(ws);
    expect(k2).toEqual(k1);
    expect(k1?.sid).not.toBe(before?.sid);
    expect(keys()).toEqual([k1?.sid]);
    expect(await authenticates(e2e.emulator, k1?.sid ?? "", k1?.secret ?? "")).toBe(true);
    expect(await authenticates(e2e.emulator, before?.sid ?? "", before?.secret ?? "")).toBe(false);
    const journal = await events(db, crashedRun);
    const count = (name: string) => journal.filter((r) => r.event === name).length;
    expect(count("key-issued")).toBe(1);
    expect(count("revoke-started")).toBe(1);
    expect(count("old-key-revoked")).toBe(1);
    expect(journal.find((r) => r.event === "run-started")).toMatchObject({ host: a.name });
    expect(journal.find((r) => r.event === "resume-started")).toMatchObject({ host: b.name });
    expect(journal.at(-1)).toMatchObject({ event: "run-finished", status: "completed" });
    // A second resume finds nothing; a rotate now is a new rotation, not a repeat of the finished one.
    expect(json(await a.run("resume")).status).toBe("nothing-to-resume");

    // status on either host, from its own state directory, shows both runs with the host each started on.
    for (const host of [a, b]) {
      const status = await host.run("status");
      expect(status.code, status.stderr).toBe(0);
      const runs = (json(status).runs as Array<{ runId: string; host?: string; status: string }>).map((r) => [
        r.runId,
        r.host,
        r.status,
      ]);
      expect(runs).toEqual([
        [firstRun, b.name, "completed"],
        [crashedRun, a.name, "completed"],
      ]);
      expect(json(status).state).toMatch(/^PostgreSQL database 127\.0\.0\.1:\d+\/e2e_/);
    }
    // watch reads the last run from the database too (B's own state directory holds no journal).
    const watched = await b.run("watch", "--once");
    expect(watched.code, watched.stderr).toBe(0);
    expect(json(watched).lastRun).toMatchObject({ runId: crashedRun, status: "completed" });
    const human = await runOn(a.name, ["status", "--config", a.config, "--state-dir", a.stateDir], a.env);
    expect(human.stdout).toMatch(/state: PostgreSQL database 127\.0\.0\.1:\d+\/e2e_/);
    expect(human.stdout).toContain(`${firstRun}  rotate  completed  on ${b.name}`);
    expect(human.stdout).toContain(`${crashedRun}  rotate  completed  on ${a.name}`);
  });
});

describe("state on PostgreSQL, a stalled holder", () => {
  it("a rotate stalled past its lease (SIGSTOP) loses the run: another host rotates, and the woken one stops, exit 5", async () => {
    const ws = await e2e.workspace(2);
    const db = await database();
    const [a, b] = await twoHosts(ws, db);
    const keys = keysOf(ws);
    const pause = join(ws.dir, "pause");
    await writeFile(pause, "");
    const stalled = startOn(a.name, ["rotate", "--config", a.config, "--state-dir", a.stateDir, "--json"], {
      ...a.env,
      ROTATOR_PAUSE: "after-lock:rotate",
      ROTATOR_PAUSE_FILE: pause,
    });
    try {
      await until(async () => existsSync(`${pause}.reached`), 30_000);
      // Holding the locks, it stalls (no renewal) until well past its lease; meanwhile host B goes on.
      stalled.child.kill("SIGSTOP");
      await rm(pause);
      await until(
        async () => (await db.query("SELECT 1 FROM rotator_locks WHERE expires_at > now()")).rows.length === 0,
        LEASE_SECONDS * 1000 + 5_000,
      );
      const cleared = await b.run("resume");
      expect(cleared.code, cleared.stderr).toBe(0);
      expect(json(cleared).status).toBe("nothing-to-resume");
      const rotated = await b.run("rotate");
      expect(rotated.code, rotated.stderr).toBe(0);
      const [k1, k2] = await storeKeys(ws);
      expect(k2).toEqual(k1);
      expect(keys()).toEqual([k1?.sid]);
    } finally {
      stalled.child.kill("SIGCONT");
    }
    // Woken, it finds its lease gone before its first step: no run, no key, no lock of its own.
    const woken = await stalled.done;
    expect(woken.code, woken.stderr).toBe(5);
    expect(json(woken).error).toMatch(/no longer holds the lease on its stores' locks/);
    const [k1, k2] = await storeKeys(ws);
    expect(k2).toEqual(k1);
    expect(keys()).toEqual([k1?.sid]);
    expect(await authenticates(e2e.emulator, k1?.sid ?? "", k1?.secret ?? "")).toBe(true);
    expect((await db.query("SELECT run_id FROM rotator_runs")).rows).toHaveLength(1);
    expect((await db.query("SELECT 1 FROM rotator_locks")).rows).toEqual([]);
  });
});

describe("state on PostgreSQL, bad config and dry runs", () => {
  it("a missing DATABASE_URL, a database that is not there, a wrong password: exit 2 naming the config, nothing changed", async () => {
    const ws = await e2e.workspace(2);
    const db = await database();
    const [a] = await twoHosts(ws, db);
    const keys = e2e.emulator.keys().map((k) => k.sid);
    const cases: Array<{ env: Record<string, string | undefined>; error: RegExp }> = [
      {
        env: { ...a.env, DATABASE_URL: undefined },
        error: /state\.url\.env: environment variable DATABASE_URL is not set/,
      },
      {
        env: { ...a.env, DATABASE_URL: db.url.replace(/:\d+\//, ":1/") },
        error: /cannot use the PostgreSQL state database 127\.0\.0\.1:1\/e2e_\w+ named by state\.url .*ECONNREFUSED/,
      },
      {
        env: { ...a.env, DATABASE_URL: db.url.replace(db.password, `${db.password.slice(0, -1)}X`) },
        error: /cannot use the PostgreSQL state database .* password authentication failed/,
      },
    ];
    for (const { env, error } of cases) {
      for (const command of ["rotate", "plan", "status", "resume"]) {
        const run = await runOn(a.name, [command, "--config", a.config, "--state-dir", a.stateDir, "--json"], env);
        expect(run.code, `${command}: ${run.stdout}`).toBe(2);
        expect(json(run).error).toMatch(error);
        expect(json(run).error).toContain(a.config);
        expect(json(run).hint).toBeTruthy();
        expect(`${run.stdout}${run.stderr}`).not.toContain(db.password);
        expect(`${run.stdout}${run.stderr}`).not.toContain(db.password.slice(0, -1));
      }
    }
    for (const [i, file] of ws.storeFiles.entries())
      expect((await readStoreKey(file)).sid, `store ${i}`).toBe(ws.seeded.sid);
    expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keys);
    expect(await rotatorTables(db)).toEqual([]);
  });

  it("plan and status on a database no rotator used yet create nothing: no table, no row", async () => {
    const ws = await e2e.workspace(2);
    const db = await database();
    const [a] = await twoHosts(ws, db);
    const plan = await a.run("plan");
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.stringify(json(plan))).not.toMatch(/cannot use the PostgreSQL/);
    const status = await a.run("status");
    expect(status.code, status.stderr).toBe(0);
    expect(json(status).runs).toEqual([]);
    expect(await rotatorTables(db)).toEqual([]);
    // The same after rotator made its tables: plan adds no row.
    expect((await a.run("rotate")).code).toBe(0);
    const counts = async () =>
      (
        await db.query(
          "SELECT (SELECT count(*) FROM rotator_runs) AS runs, (SELECT count(*) FROM rotator_journal) AS records, (SELECT count(*) FROM rotator_locks) AS locks",
        )
      ).rows[0];
    const before = await counts();
    expect((await a.run("plan")).code).toBe(0);
    expect(await counts()).toEqual(before);
  });
});
