/**
 * Where a command keeps its runs' journals and its stores' locks: the state backend. The engine asks only
 * this interface, so the state can live in the local state directory (local.ts, the default: JSON-lines
 * files and O_EXCL lock files) or in a PostgreSQL database shared by several hosts (postgres.ts: journal
 * rows and leased lock rows), with the same events either way.
 *
 * Promises every backend keeps:
 * - a journal record is durable before `append` resolves (the engine acts on a step only after that);
 * - `acquireLocks` takes every store's lock or none, and two holders never hold one store at once;
 * - a lock whose holder is gone is "stale": reported to `rotate` (exit 5, with the command that finishes
 *   the run), taken over only by `resume` and `rollback`, atomically (two takers never both win);
 * - a holder that lost its locks (a lease that ran out, a lock file removed or taken over) can append nothing
 *   more to its journal, and its `fence()` refuses every store change (engine/fence.ts): it stops with exit 5.
 */

import type { StoreFence } from "../../../providers/store-call.js";
import type { JournalEvent, JournalRecord, RunSummary } from "../journal.js";
import type { JournalWord } from "../journal-words.js";
import type { ConfigIndex, KnownConfig } from "../known-configs.js";
import type { LockState, StoreRef } from "../lock.js";

/** One run's journal, open for appending. */
export interface RunJournal {
  readonly runId: string;
  /** Where it is, for people and `--json` (`journal`): a file path, or the database and run. */
  readonly path: string;
  /** The credential type's word the journal is written in ("key", "token"). */
  readonly word: JournalWord;
  /** Record one event; resolves once it is durable. Never holds a secret (every record is redacted). */
  append(event: JournalEvent): Promise<JournalRecord>;
  /** Every record of the run so far, in order. */
  records(): Promise<JournalRecord[]>;
}

/** Who takes a set of locks: the run, the command, and the config file (for a stale lock's hint). */
export interface LockRequest {
  runId: string;
  command: string;
  configFile?: string;
}

/** The locks of every store one command writes, held together and released together. */
export interface HeldLocks {
  release(): Promise<void>;
}

/** What a claim beside a local store records about where its run's journal is (see claims.ts). */
export interface ClaimOrigin {
  /** The state directory of the run (absolute). */
  stateDir: string;
  /** The database holding the run's journal, by its instance id, when the state is on PostgreSQL. */
  database?: string;
}

export interface StateBackend {
  readonly kind: "local" | "postgres";
  /** The state for people: `state directory /x`, `PostgreSQL database 127.0.0.1:5432/rotator`. */
  readonly description: string;
  /**
   * Why `rotate` could not create its journal and locks here, or undefined when it could; decided without
   * creating anything (for `plan`).
   */
  problem(): Promise<string | undefined>;
  /** A new run's journal (fails if the run id exists). */
  createJournal(runId: string, word: JournalWord): Promise<RunJournal>;
  /** Reopen a run's journal to append to it (resume, rollback). */
  reopenJournal(runId: string, word: JournalWord): Promise<RunJournal>;
  /** Every run, oldest first. */
  listRuns(): Promise<RunSummary[]>;
  /** One run, or undefined when it has no journal here. */
  readRun(runId: string): Promise<RunSummary | undefined>;
  /**
   * Take every store's lock, all or nothing, in a fixed order; throws a RotatorError (exit 5) naming the
   * holder when one is held or stale. `takeOverStale` (resume, rollback) takes stale ones over.
   */
  acquireLocks(
    stores: readonly StoreRef[],
    request: LockRequest,
    options?: { takeOverStale?: boolean },
  ): Promise<HeldLocks>;
  /**
   * This view's hold on the locks it holds now, which every store change confirms first (engine/fence.ts);
   * undefined while it holds none.
   */
  fence(): StoreFence | undefined;
  /** Each store's lock, in the order given. */
  inspectLocks(stores: readonly StoreRef[]): Promise<Array<StoreRef & { lock: LockState }>>;
  /** Runs whose holder is alive and holds a lock right now ("running", whatever their journal says). */
  liveRunIds(): Promise<Set<string>>;
  /** What claims beside local stores record for runs journaled here. */
  claimOrigin(): ClaimOrigin;
  /**
   * The run a claim beside a store names, read where the claim says its journal is: undefined when it has
   * no journal there, "unknown" when this backend cannot look (another database, another host's files).
   */
  runOfClaim(origin: ClaimOrigin & { runId: string }): Promise<RunSummary | undefined | "unknown">;
  /**
   * Record a config (engine/known-configs.ts), replacing its earlier record, and index it by each store it
   * names and by its credential key: done before a command that may change stores takes their locks, so configs sharing a store know of
   * each other even when one is refused at the lock.
   */
  noteConfig(config: KnownConfig): Promise<void>;
  /**
   * The configs recorded under this index: naming this store, or with this credential key (an entry outlives a
   * config's change of stores: its record says what it names now).
   */
  knownConfigs(index: ConfigIndex): Promise<KnownConfig[]>;
  /** Let go of connections and timers; held locks are released by their own `release`. */
  close(): Promise<void>;
}
