/**
 * State on PostgreSQL (`state: { backend: postgres, url: { env: DATABASE_URL } }`), shared by every host
 * that runs rotator against one database: two schedulers on two hosts never rotate one store at once, and
 * either can finish a run the other left behind.
 *
 * - Journal: one row per record (`rotator_journal`: run, seq, the record as the journal file would hold it,
 *   in the credential type's words and redacted). Same events as the local journal.
 * - Locks: one row per store identity (`rotator_locks`) with its holder and a lease (`expires_at`, by the
 *   database's clock, so hosts' clocks need not agree). The holder renews the lease every third of it while
 *   the run is alive; a lock whose lease ran out is stale: `rotate` reports it (exit 5), `resume` and
 *   `rollback` take it over in a transaction that locks the rows (`SELECT ... FOR UPDATE`) and inserts with
 *   `ON CONFLICT DO NOTHING`, so of two taking over at once exactly one wins. A holder that is still alive
 *   renews, which a waiting `resume` sees (the lease moves): it is never taken from it.
 * - Fencing: every journal append is one statement that inserts only while this holder still holds every
 *   lock of its set with an unexpired lease. A process stalled past its lease (and possibly taken over)
 *   therefore cannot record, and so cannot act on, another step: the engine journals before each step.
 *
 * The schema is created on first use (under an advisory lock, so hosts starting at once do not race).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ClientBase, Pool } from "pg";
import { ExitCode, errorMessage, RotatorError } from "../../errors.js";
import { redact } from "../../util/mask.js";
import { isUnfinished, type JournalEvent, type JournalRecord, type RunSummary } from "../journal.js";
import { fromDisk, type JournalWord, toDisk } from "../journal-words.js";
import { describeIdentity, describeOwner, type LockOwner, type LockState, type StoreRef } from "../lock.js";
import type { ClaimOrigin, HeldLocks, LockRequest, RunJournal, StateBackend } from "./backend.js";
import type { StateBackendPool } from "./index.js";
import { LocalStateBackend } from "./local.js";

const SCHEMA_VERSION = "1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rotator_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS rotator_runs (
  run_id text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rotator_journal (
  run_id text NOT NULL REFERENCES rotator_runs (run_id),
  seq integer NOT NULL,
  record jsonb NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS rotator_locks (
  store_identity text PRIMARY KEY,
  holder text NOT NULL,
  owner jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rotator_locks_holder ON rotator_locks (holder);
`;

export interface PostgresStateOptions {
  url: string;
  leaseMs: number;
  /** The local state directory (claims beside stores name it; the journal is not there). */
  stateDir: string;
  /** The environment variable the URL came from, for messages. */
  variable: string;
}

/** `127.0.0.1:5432/rotator`: where the database is, without user, password or options. */
export function databaseDisplay(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/** Connect, create the schema if needed, and learn the database's instance id. */
export async function openPostgresState(options: PostgresStateOptions): Promise<StateBackendPool> {
  const { default: pg } = await import("pg");
  const display = databaseDisplay(options.url);
  const pool = new pg.Pool({ connectionString: options.url, max: 6, application_name: "rotator" });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  let instanceId: string;
  try {
    instanceId = await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw new RotatorError(
      `cannot use the PostgreSQL state database ${display} (state.url, from ${options.variable}): ${redact(errorMessage(error))}`,
      {
        exitCode: ExitCode.badInput,
        hint: `check ${options.variable} (postgres://user:password@host:5432/database) and that the database accepts connections from this host; nothing was changed`,
      },
    );
  }
  const shared: Shared = { pool, leaseMs: options.leaseMs, display, instanceId, stateDir: options.stateDir };
  return {
    view: () => new PostgresStateBackend(shared),
    close: () => pool.end(),
  };
}

async function migrate(pool: Pool): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('rotator:schema'))");
    await client.query(SCHEMA);
    await client.query(
      "INSERT INTO rotator_meta (key, value) VALUES ('schema_version', $1), ('instance_id', $2) ON CONFLICT (key) DO NOTHING",
      [SCHEMA_VERSION, randomUUID()],
    );
    const rows = await client.query<{ key: string; value: string }>("SELECT key, value FROM rotator_meta");
    await client.query("COMMIT");
    const meta = new Map(rows.rows.map((row) => [row.key, row.value]));
    if (meta.get("schema_version") !== SCHEMA_VERSION) {
      throw new Error(
        `its rotator tables are of schema version ${meta.get("schema_version")}, this rotator knows ${SCHEMA_VERSION}`,
      );
    }
    return meta.get("instance_id") as string;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

interface Shared {
  pool: Pool;
  leaseMs: number;
  display: string;
  instanceId: string;
  stateDir: string;
}

interface LockRow {
  store_identity: string;
  holder: string;
  owner: LockOwner;
  expires_at: Date;
  live: boolean;
}

/** The journal append found this holder no longer holds its locks: another process may own the run now. */
export class LeaseLostError extends RotatorError {
  override readonly name = "LeaseLostError";
  constructor(runId: string, display: string) {
    super(
      `run ${runId}: this process no longer holds the lease on its stores' locks in ${display} (it stalled past the lease, or another process took the run over); it stopped before its next step`,
      {
        exitCode: ExitCode.locked,
        hint: "`rotator status` shows who holds the run now; `rotator resume` finishes it once no one does",
      },
    );
  }
}

class PostgresLocks implements HeldLocks {
  readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  readonly count: number;
  readonly #shared: Shared;
  #timer: NodeJS.Timeout | undefined;
  #released = false;
  lost = false;

  constructor(shared: Shared, count: number) {
    this.#shared = shared;
    this.count = count;
  }

  /** Renew the lease every third of it while held, so only a dead (or stalled) holder's lease runs out. */
  startRenewing(): void {
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(this.#shared.leaseMs / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#released || this.lost) return;
    try {
      const result = await this.#shared.pool.query(
        "UPDATE rotator_locks SET expires_at = now() + $2 * interval '1 millisecond' WHERE holder = $1 AND expires_at > now()",
        [this.holder, this.#shared.leaseMs],
      );
      // Ran out before we renewed (a stall): never revive it, someone may be taking it over.
      if ((result.rowCount ?? 0) < this.count) this.lost = true;
    } catch {
      // A passing database error: the next renewal tries again, well within the lease.
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#shared.pool.query("DELETE FROM rotator_locks WHERE holder = $1", [this.holder]);
  }
}

class PostgresJournal implements RunJournal {
  readonly runId: string;
  readonly path: string;
  readonly word: JournalWord;
  readonly #shared: Shared;
  readonly #locks: () => PostgresLocks | undefined;
  #seq: number;

  constructor(shared: Shared, runId: string, word: JournalWord, seq: number, locks: () => PostgresLocks | undefined) {
    this.#shared = shared;
    this.runId = runId;
    this.word = word;
    this.#seq = seq;
    this.#locks = locks;
    this.path = runPath(shared, runId);
  }

  async append(event: JournalEvent): Promise<JournalRecord> {
    const locks = this.#locks();
    if (locks === undefined) throw new Error(`run ${this.runId}: a journal append without the stores' locks`);
    const seq = this.#seq + 1;
    const record = { ts: new Date().toISOString(), seq, runId: this.runId, ...event } as JournalRecord;
    let inserted: number;
    try {
      // One statement: the row goes in only while every lock of this holder's set is held and unexpired.
      const result = await this.#shared.pool.query(
        `INSERT INTO rotator_journal (run_id, seq, record)
         SELECT $1, $2, $3::jsonb
         WHERE (SELECT count(*) FROM rotator_locks WHERE holder = $4 AND expires_at > now()) = $5`,
        [this.runId, seq, redact(JSON.stringify(toDisk(record, this.word))), locks.holder, locks.count],
      );
      inserted = result.rowCount ?? 0;
    } catch (error) {
      // Another process appended this seq: it owns the run now.
      if ((error as { code?: string }).code === "23505") throw new LeaseLostError(this.runId, this.#shared.display);
      throw error;
    }
    if (inserted !== 1) {
      locks.lost = true;
      throw new LeaseLostError(this.runId, this.#shared.display);
    }
    this.#seq = seq;
    return record;
  }

  async records(): Promise<JournalRecord[]> {
    return readRecords(this.#shared, this.runId);
  }
}

function runPath(shared: Shared, runId: string): string {
  return `postgres ${shared.display} run ${runId}`;
}

async function readRecords(shared: Shared, runId: string): Promise<JournalRecord[]> {
  const result = await shared.pool.query<{ record: Record<string, unknown> }>(
    "SELECT record FROM rotator_journal WHERE run_id = $1 ORDER BY seq",
    [runId],
  );
  return result.rows.map((row) => fromDisk(row.record) as JournalRecord);
}

function summarize(shared: Shared, runId: string, records: JournalRecord[]): RunSummary {
  const started = records.find((r) => r.event === "run-started") as RunSummary["started"];
  const finishedAll = records.filter((r) => r.event === "run-finished") as Array<NonNullable<RunSummary["finished"]>>;
  return { runId, path: runPath(shared, runId), records, started, finished: finishedAll.at(-1) };
}

/** One context's view of the shared database: its own lock holder, the pool's connections. */
class PostgresStateBackend implements StateBackend {
  readonly kind = "postgres" as const;
  readonly #shared: Shared;
  /** The lock set this view holds now (a command holds one at a time): it fences the journal's appends. */
  #held: PostgresLocks | undefined;
  readonly #over = new Map<string, RunSummary>();

  constructor(shared: Shared) {
    this.#shared = shared;
  }

  get description(): string {
    return `PostgreSQL database ${this.#shared.display}`;
  }

  async problem(): Promise<string | undefined> {
    try {
      await this.#shared.pool.query("SELECT 1 FROM rotator_locks LIMIT 1");
      return undefined;
    } catch (error) {
      return `cannot use the PostgreSQL state database ${this.#shared.display}: ${redact(errorMessage(error))}`;
    }
  }

  async createJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    await this.#shared.pool.query("INSERT INTO rotator_runs (run_id) VALUES ($1)", [runId]);
    return new PostgresJournal(this.#shared, runId, word, 0, () => this.#held);
  }

  async reopenJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    const result = await this.#shared.pool.query<{ seq: number | null }>(
      "SELECT max(seq) AS seq FROM rotator_journal WHERE run_id = $1",
      [runId],
    );
    return new PostgresJournal(this.#shared, runId, word, result.rows[0]?.seq ?? 0, () => this.#held);
  }

  async listRuns(): Promise<RunSummary[]> {
    const ids = (
      await this.#shared.pool.query<{ run_id: string }>("SELECT run_id FROM rotator_runs ORDER BY run_id")
    ).rows.map((row) => row.run_id);
    // A finished run never changes again: read once, kept for the life of this view (a fleet asks per account).
    const toRead = ids.filter((id) => !this.#over.has(id));
    const byRun = new Map<string, JournalRecord[]>(toRead.map((id) => [id, []]));
    if (toRead.length > 0) {
      const result = await this.#shared.pool.query<{ run_id: string; record: Record<string, unknown> }>(
        "SELECT run_id, record FROM rotator_journal WHERE run_id = ANY($1) ORDER BY run_id, seq",
        [toRead],
      );
      for (const row of result.rows) byRun.get(row.run_id)?.push(fromDisk(row.record) as JournalRecord);
    }
    return ids.map((id) => {
      const kept = this.#over.get(id);
      if (kept !== undefined) return kept;
      const run = summarize(this.#shared, id, byRun.get(id) ?? []);
      if (run.finished !== undefined && !isUnfinished(run)) this.#over.set(id, run);
      return run;
    });
  }

  async readRun(runId: string): Promise<RunSummary | undefined> {
    const exists = await this.#shared.pool.query("SELECT 1 FROM rotator_runs WHERE run_id = $1", [runId]);
    if ((exists.rowCount ?? 0) === 0) return undefined;
    return summarize(this.#shared, runId, await readRecords(this.#shared, runId));
  }

  async acquireLocks(
    stores: readonly StoreRef[],
    request: LockRequest,
    options: { takeOverStale?: boolean } = {},
  ): Promise<HeldLocks> {
    const unique = [...new Map(stores.map((store) => [store.identity, store])).values()].sort((a, b) =>
      a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0,
    );
    const { leaseMs } = this.#shared;
    // resume and rollback wait out a lease once: a dead holder's runs out within it, a live one renews it.
    const deadline = Date.now() + leaseMs + 2_000;
    const seen = new Map<string, string>();
    for (;;) {
      const locks = new PostgresLocks(this.#shared, unique.length);
      const outcome = await this.#tryAcquire(unique, request, locks, options.takeOverStale ?? false);
      if (outcome.taken) {
        locks.startRenewing();
        this.#held = locks;
        return {
          release: async () => {
            if (this.#held === locks) this.#held = undefined;
            await locks.release();
          },
        };
      }
      const blocking = outcome.blocking;
      const store = unique.find((s) => s.identity === blocking.store_identity) as StoreRef;
      if (!blocking.live) throw staleError(store, blocking, this.#shared.display);
      const mark = `${blocking.holder}@${blocking.expires_at.toISOString()}`;
      const before = seen.get(blocking.store_identity);
      const renewed = before !== undefined && before !== mark;
      if (!options.takeOverStale || renewed || Date.now() > deadline) throw heldError(store, blocking);
      seen.set(blocking.store_identity, mark);
      const wait = Math.min(outcome.expiresInMs + 100, Math.max(0, deadline - Date.now()));
      await new Promise((resolve) => setTimeout(resolve, Math.max(50, wait)));
    }
  }

  async #tryAcquire(
    unique: StoreRef[],
    request: LockRequest,
    locks: PostgresLocks,
    takeOverStale: boolean,
  ): Promise<{ taken: true } | { taken: false; blocking: LockRow; expiresInMs: number }> {
    const client = await this.#shared.pool.connect();
    try {
      await client.query("BEGIN");
      const identities = unique.map((store) => store.identity);
      const existing = await lockRows(client, identities, true);
      const blocking = existing.find((row) => row.live) ?? (takeOverStale ? undefined : existing[0]);
      if (blocking !== undefined) {
        const left = await client.query<{ ms: number }>(
          "SELECT greatest(0, extract(epoch FROM ($1::timestamptz - now())) * 1000)::float8 AS ms",
          [blocking.expires_at],
        );
        await client.query("ROLLBACK");
        return { taken: false, blocking, expiresInMs: left.rows[0]?.ms ?? 0 };
      }
      // Only stale rows are left among ours (takeOverStale): they are locked by this transaction, so no one
      // else can take them between this delete and our insert.
      if (existing.length > 0) {
        await client.query("DELETE FROM rotator_locks WHERE store_identity = ANY($1) AND expires_at <= now()", [
          existing.map((row) => row.store_identity),
        ]);
      }
      const since = new Date().toISOString();
      let inserted = 0;
      for (const store of unique) {
        const owner: LockOwner = {
          pid: process.pid,
          host: hostname(),
          since,
          ...request,
          store: store.identity,
        };
        const result = await client.query(
          `INSERT INTO rotator_locks (store_identity, holder, owner, expires_at)
           VALUES ($1, $2, $3::jsonb, now() + $4 * interval '1 millisecond') ON CONFLICT (store_identity) DO NOTHING`,
          [store.identity, locks.holder, JSON.stringify(owner), this.#shared.leaseMs],
        );
        inserted += result.rowCount ?? 0;
      }
      if (inserted < unique.length) {
        // Another taker inserted a row we had not seen (it was absent, so not locked): it holds it now.
        await client.query("ROLLBACK");
        const now = await lockRows(this.#shared.pool, identities, false);
        const holder = now.find((row) => row.live) ?? now[0];
        if (holder === undefined) return this.#tryAcquire(unique, request, locks, takeOverStale);
        return { taken: false, blocking: { ...holder, live: true }, expiresInMs: this.#shared.leaseMs };
      }
      await client.query("COMMIT");
      return { taken: true };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async inspectLocks(stores: readonly StoreRef[]): Promise<Array<StoreRef & { lock: LockState }>> {
    const rows = await lockRows(
      this.#shared.pool,
      stores.map((store) => store.identity),
      false,
    );
    return stores.map((store) => {
      const row = rows.find((r) => r.store_identity === store.identity);
      const lock: LockState =
        row === undefined
          ? { state: "free" }
          : { state: row.live ? "held" : "stale", owner: { ...row.owner, leaseUntil: row.expires_at.toISOString() } };
      return { ...store, lock };
    });
  }

  async liveRunIds(): Promise<Set<string>> {
    const result = await this.#shared.pool.query<{ run_id: string }>(
      "SELECT DISTINCT owner->>'runId' AS run_id FROM rotator_locks WHERE expires_at > now()",
    );
    return new Set(result.rows.map((row) => row.run_id));
  }

  claimOrigin(): ClaimOrigin {
    return { stateDir: this.#shared.stateDir, database: this.#shared.instanceId };
  }

  async runOfClaim(origin: ClaimOrigin & { runId: string }): Promise<RunSummary | undefined | "unknown"> {
    if (origin.database === this.#shared.instanceId) return this.readRun(origin.runId);
    if (origin.database === undefined) return new LocalStateBackend(origin.stateDir).runOfClaim(origin);
    return "unknown";
  }

  async close(): Promise<void> {
    // The pool belongs to the backend pool; a view holds nothing else.
  }
}

async function lockRows(
  client: Pick<ClientBase, "query"> | Pool,
  identities: string[],
  forUpdate: boolean,
): Promise<LockRow[]> {
  const result = await client.query<LockRow>(
    `SELECT store_identity, holder, owner, expires_at, expires_at > now() AS live
     FROM rotator_locks WHERE store_identity = ANY($1) ORDER BY store_identity${forUpdate ? " FOR UPDATE" : ""}`,
    [identities],
  );
  return result.rows;
}

function heldError(store: StoreRef, row: LockRow): RotatorError {
  const owner = { ...row.owner, leaseUntil: row.expires_at.toISOString() };
  return new RotatorError(
    `another rotator run holds the lock of store ${store.name} (${describeIdentity(store.identity)}): ${describeOwner(owner)}`,
    {
      exitCode: ExitCode.locked,
      hint: "wait for it to finish (`rotator status` shows it, from any host); two runs must never write one store at once",
    },
  );
}

function staleError(store: StoreRef, row: LockRow, display: string): RotatorError {
  const owner = { ...row.owner, leaseUntil: row.expires_at.toISOString() };
  const resume = owner.configFile === undefined ? "rotator resume" : `rotator resume --config ${owner.configFile}`;
  return new RotatorError(
    `a stale lock of store ${store.name} (${describeIdentity(store.identity)}) is left by ${describeOwner(owner)}, whose lease ran out`,
    {
      exitCode: ExitCode.locked,
      hint: `run \`${resume}\` (from any host using ${display}) to finish or roll back that run; it takes the lock over`,
    },
  );
}
