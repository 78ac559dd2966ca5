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
 * - Fencing: every journal append (and the creation of a run) is one statement that inserts only while this
 *   holder still holds every lock of its set with an unexpired lease. A process stalled past its lease (and possibly taken over)
 *   therefore cannot record, and so cannot act on, another step: the engine journals before each step.
 *
 * - Configs (engine/known-configs.ts): rows of `rotator_meta` keyed `config:<id>` (the record, as JSON) and
 *   `config-index:<index key>:<id>` (an index entry: a store it names, its credential key), written before a
 *   command takes its locks.
 *
 * The schema is created by the first command that writes (under an advisory lock, so hosts starting at once do
 * not race); opening the database and every read leave it as it is, so `plan` changes nothing even there.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ClientBase, Pool } from "pg";
import { isMissingPackage } from "../../../providers/errors.js";
import type { StoreFence } from "../../../providers/store-call.js";
import { ExitCode, errorMessage, RotatorError } from "../../errors.js";
import { redact, redactedJson } from "../../util/mask.js";
import { installHint } from "../../util/optional-packages.js";
import { isUnfinished, type JournalEvent, type JournalRecord, type RunSummary } from "../journal.js";
import { fromDisk, type JournalWord, toDisk } from "../journal-words.js";
import { type ConfigIndex, indexesOf, indexKey, type KnownConfig } from "../known-configs.js";
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
  record json NOT NULL,
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
  /** The environment variable the URL came from, and the config naming it, for messages. */
  variable: string;
  configFile: string;
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

/** Connect and read the database's rotator instance id (if its tables exist yet): nothing is created here. */
export async function openPostgresState(options: PostgresStateOptions): Promise<StateBackendPool> {
  const { default: pg } = await import("pg").catch((error: unknown) => {
    if (!isMissingPackage(error, "pg")) throw error;
    throw new RotatorError(
      `state: backend: postgres in ${options.configFile} needs the package pg: it is not installed`,
      {
        exitCode: ExitCode.badInput,
        hint: `${installHint("pg")}; nothing was changed`,
      },
    );
  });
  const display = databaseDisplay(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 6,
    application_name: "rotator",
    // A database that never answers (a firewall dropping packets) is an error, not a hang.
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  let instanceId: string | undefined;
  try {
    instanceId = await readInstanceId(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw new RotatorError(
      `cannot use the PostgreSQL state database ${display} named by state.url in ${options.configFile} (from ${options.variable}): ${redact(errorMessage(error))}`,
      {
        exitCode: ExitCode.badInput,
        hint: `check ${options.variable} (postgres://user:password@host:5432/database) and that the database accepts connections from this host; nothing was changed`,
      },
    );
  }
  let migrating: Promise<void> | undefined;
  const shared: Shared = {
    pool,
    leaseMs: options.leaseMs,
    display,
    configFile: options.configFile,
    lockSets: 0,
    lost: undefined,
    instanceId,
    stateDir: options.stateDir,
    ensureSchema() {
      if (shared.instanceId !== undefined) return Promise.resolve();
      migrating ??= migrate(pool).then(
        (id) => {
          shared.instanceId = id;
        },
        (error: unknown) => {
          migrating = undefined;
          throw error;
        },
      );
      return migrating;
    },
  };
  // From here on (the open's own failure is said above): an outage names the database and the next step.
  const where = { display, configFile: options.configFile };
  reportLostConnections(pool, (cause) => shared.lost ?? new StateDatabaseLostError(where, cause, shared.lockSets > 0));
  return {
    view: () => new PostgresStateBackend(shared),
    close: () => pool.end(),
  };
}

/** The instance id of the database's rotator tables, or undefined when no rotator has written there yet. */
async function readInstanceId(pool: Pool): Promise<string | undefined> {
  const present = await pool.query<{ present: boolean }>("SELECT to_regclass('rotator_meta') IS NOT NULL AS present");
  if (present.rows[0]?.present !== true) return undefined;
  const rows = await pool.query<{ key: string; value: string }>(META_KEYS);
  return checkedInstanceId(new Map(rows.rows.map((row) => [row.key, row.value])));
}

/** The schema's own rows of rotator_meta (the configs recorded there are read by key). */
const META_KEYS = "SELECT key, value FROM rotator_meta WHERE key IN ('schema_version', 'instance_id')";

function checkedInstanceId(meta: Map<string, string>): string {
  if (meta.get("schema_version") !== SCHEMA_VERSION) {
    throw new Error(
      `its rotator tables are of schema version ${meta.get("schema_version")}, this rotator knows ${SCHEMA_VERSION}`,
    );
  }
  return meta.get("instance_id") as string;
}

/** A read of tables no rotator has created yet finds nothing (undefined_table), rather than failing. */
async function orEmpty<T>(read: () => Promise<T>, empty: T): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return empty;
    throw error;
  }
}

/** Create the tables (first write to this database), under an advisory lock; returns the instance id. */
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
    const rows = await client.query<{ key: string; value: string }>(META_KEYS);
    await client.query("COMMIT");
    return checkedInstanceId(new Map(rows.rows.map((row) => [row.key, row.value])));
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
  /** The config naming the database, for messages. */
  configFile: string;
  /** Lock sets this process holds now: while any is held, a lost database may have stopped a run. */
  lockSets: number;
  /** Set when the database stopped answering during a run: every later failure says the same. */
  lost: StateDatabaseLostError | undefined;
  /** The database's rotator instance id (claims name it), once its tables exist. */
  instanceId: string | undefined;
  stateDir: string;
  /** Create the tables if no rotator has yet: before the first write, never for a read. */
  ensureSchema(): Promise<void>;
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

/**
 * The state database stopped answering (the server gone, the network, a timeout) after it was opened. During a
 * run the run stops at once, since a step it cannot record it must not take: exit 7, and `resume` is the next
 * step once the database answers. Otherwise (a read-only command) nothing was changed: exit 2.
 */
export class StateDatabaseLostError extends RotatorError {
  override readonly name = "StateDatabaseLostError";
  readonly #where: { display: string; configFile: string };

  constructor(where: { display: string; configFile: string }, cause: unknown, duringRun: boolean, runId?: string) {
    const database = `the PostgreSQL state database ${where.display} (state.url in ${where.configFile})`;
    const detail = redact(errorMessage(cause)) || String((cause as { code?: string }).code ?? "no answer");
    const resume = `once the database answers again, run \`rotator resume --config ${where.configFile}\`: it finishes or rolls back the run from what its journal recorded (\`rotator status\` shows where it stopped)`;
    super(
      runId !== undefined
        ? `run ${runId} stopped: ${database} stopped answering (${detail}), so rotator could not record its next step and did not take it`
        : `${database} stopped answering (${detail})`,
      duringRun
        ? {
            exitCode: ExitCode.needsOperator,
            hint: runId === undefined ? `if a run was in progress, ${resume}` : resume,
            cause,
          }
        : {
            exitCode: ExitCode.badInput,
            hint: "nothing was changed; check that the database accepts connections from this host, then run the command again",
            cause,
          },
    );
    this.#where = where;
  }

  /** The same, said of the run whose journal write it stopped. */
  duringRun(runId: string): StateDatabaseLostError {
    return new StateDatabaseLostError(this.#where, this.cause, true, runId);
  }
}

/** A failure that means the database did not answer, as opposed to a statement it refused. */
function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  // Node's socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, EPIPE, ...); SQLSTATE class 08
  // (connection exception) and 57P01-57P03 (the server shutting down or starting up).
  if (typeof code === "string" && (/^E[A-Z]+$/.test(code) || /^08/.test(code) || /^57P0[123]$/.test(code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|connection timeout/i.test(errorMessage(error));
}

/**
 * Make every query and connect of the pool fail with `lost(cause)` once the database stops answering, so that
 * whichever call meets the outage first (an append, a read in a finally), the command ends saying which
 * database, and what to run next.
 */
function reportLostConnections(pool: Pool, lost: (cause: unknown) => Error): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const translate = (error: unknown): never => {
    throw connectionLost(error) ? lost(error) : error;
  };
  Object.assign(pool, {
    query: (...args: unknown[]) => query(...args).catch(translate),
    // The pool's own query() connects with a callback: that form is left as it is.
    connect: (...args: unknown[]) => (args.length > 0 ? connect(...args) : connect().catch(translate)),
  });
}

class PostgresLocks implements HeldLocks, StoreFence {
  readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  readonly count: number;
  readonly #shared: Shared;
  readonly #runId: string;
  #timer: NodeJS.Timeout | undefined;
  #released = false;
  /**
   * Until when (performance.now(), ms) the lease surely holds: a lease is renewed to the database's now() plus
   * the lease, and that now() is no earlier than the moment this process sent the statement, so the statement's
   * send time plus the lease is a bound the database's clock cannot undercut (clocks tick at one rate).
   */
  #heldUntil = 0;
  lost = false;

  constructor(shared: Shared, count: number, runId: string) {
    this.#shared = shared;
    this.count = count;
    this.#runId = runId;
  }

  /** The lease was (re)set by a statement sent at `sentAt` (performance.now()). */
  heldFrom(sentAt: number): void {
    this.#heldUntil = Math.max(this.#heldUntil, sentAt + this.#shared.leaseMs);
  }

  /** Renew the lease every third of it while held, so only a dead (or stalled) holder's lease runs out. */
  startRenewing(): void {
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(this.#shared.leaseMs / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#released || this.lost) return;
    try {
      await this.#extend();
    } catch {
      // A passing database error: the next renewal tries again, well within the lease.
    }
  }

  /** Extend every lock's lease, only while each is still ours and unexpired; false when one is not. */
  async #extend(): Promise<boolean> {
    const sentAt = performance.now();
    const result = await this.#shared.pool.query(
      "UPDATE rotator_locks SET expires_at = now() + $2 * interval '1 millisecond' WHERE holder = $1 AND expires_at > now()",
      [this.holder, this.#shared.leaseMs],
    );
    // Ran out before we renewed (a stall): never revive it, someone may be taking it over.
    if ((result.rowCount ?? 0) < this.count) {
      this.lost = true;
      return false;
    }
    this.heldFrom(sentAt);
    return true;
  }

  /**
   * Before a store change (engine/fence.ts): renew the lease and say until when it holds; LeaseLostError when it
   * is gone. A database that does not answer in time leaves the lease as last renewed, which still holds for
   * what is left of it by this process's clock.
   */
  async confirm(): Promise<number> {
    if (this.#released || this.lost) throw new LeaseLostError(this.#runId, this.#shared.display);
    let extended: boolean | "no answer";
    try {
      // The update succeeds only while the database still sees the lease unexpired: then no one can have
      // taken it over, however long ago this process last renewed it.
      extended = await withinMs(this.#extend(), CONFIRM_TIMEOUT_MS);
    } catch {
      extended = "no answer";
    }
    if (extended === false || (extended === "no answer" && performance.now() >= this.#heldUntil)) {
      throw new LeaseLostError(this.#runId, this.#shared.display);
    }
    return this.#heldUntil;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#shared.lockSets -= 1;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    try {
      await this.#shared.pool.query("DELETE FROM rotator_locks WHERE holder = $1", [this.holder]);
    } catch (error) {
      // Unrenewed, the lease runs out by itself within state.leaseSeconds; what stopped the command is said
      // by the error it is already ending with, which this one must not replace.
      if (!(error instanceof StateDatabaseLostError)) throw error;
    }
  }
}

/** How long a lease check waits for the database before it goes by the lease as last renewed. */
const CONFIRM_TIMEOUT_MS = 5_000;

/** `work`, or "no answer" once `ms` have passed (the work goes on; its result is then ignored). */
async function withinMs<T>(work: Promise<T>, ms: number): Promise<T | "no answer"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"no answer">((resolve) => {
    timer = setTimeout(() => resolve("no answer"), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
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

  /** The appends not yet durable, in the order they were asked for. */
  #pending: Promise<unknown> = Promise.resolve();

  async append(event: JournalEvent): Promise<JournalRecord> {
    // One after another: two appends asked for at once would take one sequence number, and the second
    // would read as another process having taken the run over.
    const appended = this.#pending.then(() => this.#appendNow(event));
    this.#pending = appended.catch(() => undefined);
    return appended;
  }

  async #appendNow(event: JournalEvent): Promise<JournalRecord> {
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
        [this.runId, seq, redactedJson(toDisk(record, this.word)), locks.holder, locks.count],
      );
      inserted = result.rowCount ?? 0;
    } catch (error) {
      // Another process appended this seq: it owns the run now.
      if ((error as { code?: string }).code === "23505") throw new LeaseLostError(this.runId, this.#shared.display);
      if (error instanceof StateDatabaseLostError) {
        // Not recorded, so not taken: the step waits for `resume`, which reads what was recorded.
        this.#shared.lost ??= error.duringRun(this.runId);
        throw this.#shared.lost;
      }
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
  const rows = await orEmpty(async () => {
    const result = await shared.pool.query<{ record: Record<string, unknown> }>(
      "SELECT record FROM rotator_journal WHERE run_id = $1 ORDER BY seq",
      [runId],
    );
    return result.rows;
  }, []);
  return rows.map((row) => fromDisk(row.record) as JournalRecord);
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
    const where = `the PostgreSQL state database ${this.#shared.display}`;
    try {
      const missing = await privilegesMissing(this.#shared.pool);
      return missing === undefined ? undefined : `cannot use ${where}: ${missing}`;
    } catch (error) {
      return `cannot use ${where}: ${redact(errorMessage(error))}`;
    }
  }

  async createJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    await this.#shared.ensureSchema();
    const locks = this.#held;
    if (locks === undefined) throw new Error(`run ${runId}: a journal created without the stores' locks`);
    // Fenced like every append: a process stalled past its lease leaves no empty run behind.
    const created = await this.#shared.pool.query(
      `INSERT INTO rotator_runs (run_id)
       SELECT $1 WHERE (SELECT count(*) FROM rotator_locks WHERE holder = $2 AND expires_at > now()) = $3`,
      [runId, locks.holder, locks.count],
    );
    if ((created.rowCount ?? 0) !== 1) {
      locks.lost = true;
      throw new LeaseLostError(runId, this.#shared.display);
    }
    return new PostgresJournal(this.#shared, runId, word, 0, () => this.#held);
  }

  async reopenJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    await this.#shared.ensureSchema();
    const result = await this.#shared.pool.query<{ seq: number | null }>(
      "SELECT max(seq) AS seq FROM rotator_journal WHERE run_id = $1",
      [runId],
    );
    return new PostgresJournal(this.#shared, runId, word, result.rows[0]?.seq ?? 0, () => this.#held);
  }

  async listRuns(): Promise<RunSummary[]> {
    const ids = await orEmpty(async () => {
      const result = await this.#shared.pool.query<{ run_id: string }>(
        "SELECT run_id FROM rotator_runs ORDER BY run_id",
      );
      return result.rows.map((row) => row.run_id);
    }, []);
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
    const exists = await orEmpty(async () => {
      const result = await this.#shared.pool.query("SELECT 1 FROM rotator_runs WHERE run_id = $1", [runId]);
      return (result.rowCount ?? 0) > 0;
    }, false);
    if (!exists) return undefined;
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
    await this.#shared.ensureSchema();
    const { leaseMs } = this.#shared;
    // resume and rollback wait out a lease once: a dead holder's runs out within it, a live one renews it.
    const deadline = Date.now() + leaseMs + 2_000;
    const seen = new Map<string, string>();
    for (;;) {
      const locks = new PostgresLocks(this.#shared, unique.length, request.runId);
      let outcome: Awaited<ReturnType<PostgresStateBackend["tryAcquire"]>>;
      const sentAt = performance.now();
      try {
        outcome = await this.tryAcquire(unique, request, locks, options.takeOverStale ?? false);
      } catch (error) {
        // Two takers whose row locks crossed: the database chose one to fail; it simply tries again.
        if ((error as { code?: string }).code === "40P01") continue;
        throw error;
      }
      if (outcome.taken) {
        locks.heldFrom(sentAt);
        this.#shared.lockSets += 1;
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

  private async tryAcquire(
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
        if (holder === undefined) return this.tryAcquire(unique, request, locks, takeOverStale);
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

  fence(): StoreFence | undefined {
    return this.#held;
  }

  async inspectLocks(stores: readonly StoreRef[]): Promise<Array<StoreRef & { lock: LockState }>> {
    const rows = await orEmpty(
      () =>
        lockRows(
          this.#shared.pool,
          stores.map((store) => store.identity),
          false,
        ),
      [],
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
    const ids = await orEmpty(async () => {
      const result = await this.#shared.pool.query<{ run_id: string }>(
        "SELECT DISTINCT owner->>'runId' AS run_id FROM rotator_locks WHERE expires_at > now()",
      );
      return result.rows.map((row) => row.run_id);
    }, []);
    return new Set(ids);
  }

  claimOrigin(): ClaimOrigin {
    // Claims are made under the locks, so the tables (and their instance id) exist by then.
    const { instanceId } = this.#shared;
    return instanceId === undefined
      ? { stateDir: this.#shared.stateDir }
      : { stateDir: this.#shared.stateDir, database: instanceId };
  }

  async runOfClaim(origin: ClaimOrigin & { runId: string }): Promise<RunSummary | undefined | "unknown"> {
    if (origin.database !== undefined && origin.database === this.#shared.instanceId) return this.readRun(origin.runId);
    if (origin.database === undefined) return new LocalStateBackend(origin.stateDir).runOfClaim(origin);
    return "unknown";
  }

  async noteConfig(config: KnownConfig): Promise<void> {
    await this.#shared.ensureSchema();
    const rows: Array<[string, string]> = [
      [`config:${config.id}`, JSON.stringify(config)],
      ...indexesOf(config).map((index): [string, string] => [`config-index:${indexKey(index)}:${config.id}`, ""]),
    ];
    await this.#shared.pool.query(
      `INSERT INTO rotator_meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [rows.map(([key]) => key), rows.map(([, value]) => value)],
    );
  }

  async knownConfigs(index: ConfigIndex): Promise<KnownConfig[]> {
    const prefix = `config-index:${indexKey(index)}:`;
    const rows = await orEmpty(async () => {
      const result = await this.#shared.pool.query<{ value: string }>(
        `SELECT value FROM rotator_meta WHERE key IN (
           SELECT 'config:' || substr(key, $2) FROM rotator_meta WHERE starts_with(key, $1))`,
        [prefix, prefix.length + 1],
      );
      return result.rows;
    }, []);
    return rows.map((row) => JSON.parse(row.value) as KnownConfig);
  }

  async close(): Promise<void> {
    // The pool belongs to the backend pool; a view holds nothing else.
  }
}

/**
 * What this database role lacks to keep rotator's state, or undefined: read only (privilege functions), so
 * `plan` can tell before `rotate` tries, creating nothing. Before any rotator wrote here it needs to create
 * the tables; after, to read and write them.
 */
async function privilegesMissing(pool: Pool): Promise<string | undefined> {
  const probe = await pool.query<{ schema: string | null; present: boolean; can_create: boolean | null }>(
    `SELECT current_schema() AS schema, to_regclass('rotator_locks') IS NOT NULL AS present,
            has_schema_privilege(current_schema(), 'CREATE') AS can_create`,
  );
  const row = probe.rows[0];
  if (row === undefined || row.schema === null) return "its search_path names no schema to keep rotator's tables in";
  if (!row.present) {
    return row.can_create === true
      ? undefined
      : `the role may not create rotator's tables in schema ${row.schema} (GRANT CREATE ON SCHEMA ${row.schema} TO the role, or create them once as an owner)`;
  }
  const wanted: Array<[string, string]> = [
    ["rotator_meta", "SELECT"],
    ["rotator_runs", "SELECT"],
    ["rotator_runs", "INSERT"],
    ["rotator_journal", "SELECT"],
    ["rotator_journal", "INSERT"],
    ["rotator_locks", "SELECT"],
    ["rotator_locks", "INSERT"],
    ["rotator_locks", "UPDATE"],
    ["rotator_locks", "DELETE"],
    // Configs are recorded there (engine/known-configs.ts).
    ["rotator_meta", "INSERT"],
    ["rotator_meta", "UPDATE"],
  ];
  // has_table_privilege with a list is true when ANY is held: one call per privilege.
  const result = await pool.query<Record<string, boolean>>(
    `SELECT ${wanted.map((_, i) => `has_table_privilege($${2 * i + 1}, $${2 * i + 2}) AS p${i}`).join(", ")}`,
    wanted.flat(),
  );
  const lacking = wanted.filter((_, i) => result.rows[0]?.[`p${i}`] !== true).map(([t, p]) => `${p} on ${t}`);
  return lacking.length === 0 ? undefined : `the role lacks ${lacking.join(", ")}`;
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
