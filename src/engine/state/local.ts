/**
 * The default state backend: the local state directory, as rotator has always kept it (journal.ts: one
 * JSON-lines file per run under `runs/`; lock.ts: one O_EXCL lock file per store under `locks/`, stale when
 * its process is gone on this host). This module only adapts those to the StateBackend interface.
 *
 * A fleet run asks for the list of runs once per account, and the state directory holds one journal per
 * account per run: re-reading every file each time would make a fleet quadratic. A finished run's journal
 * never changes again (resume only reopens unfinished runs), so its summary is read once and kept; only
 * unfinished and new runs are read again.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StoreFence } from "../../../providers/store-call.js";
import {
  ensureStateDir,
  isUnfinished,
  Journal,
  type JournalEvent,
  type JournalRecord,
  type RunSummary,
  stateDirError,
  stateDirProblem,
  summarizeRun,
} from "../journal.js";
import type { JournalWord } from "../journal-words.js";
import { type ConfigIndex, indexesOf, indexKey, type KnownConfig } from "../known-configs.js";
import { inspectLocks, liveRunIds, StoreLocks, type StoreRef } from "../lock.js";
import type { ClaimOrigin, HeldLocks, LockRequest, RunJournal, StateBackend } from "./backend.js";

class LocalJournal implements RunJournal {
  readonly #journal: Journal;
  readonly #locks: () => StoreLocks | undefined;

  /** `locks`: the lock set held now, checked before each append (a journal written without locks: tests). */
  constructor(journal: Journal, locks: () => StoreLocks | undefined) {
    this.#journal = journal;
    this.#locks = locks;
  }

  get runId(): string {
    return this.#journal.runId;
  }
  get path(): string {
    return this.#journal.path;
  }
  get word(): JournalWord {
    return this.#journal.word;
  }

  /** The appends not yet durable, in the order they were asked for. */
  #pending: Promise<unknown> = Promise.resolve();

  async append(event: JournalEvent): Promise<JournalRecord> {
    // One after another: two appends asked for at once (a step's record while a signal's is written) must
    // reach the file in the order of their sequence numbers, which separate async writes would not promise.
    const appended = this.#pending.then(() => {
      // A process whose lock was taken from it records nothing more: the run is someone else's now.
      this.#locks()?.assertHeld();
      return this.#journal.appendDurably(event);
    });
    this.#pending = appended.catch(() => undefined);
    return appended;
  }

  async records(): Promise<JournalRecord[]> {
    return this.#journal.records();
  }
}

export class LocalStateBackend implements StateBackend {
  readonly kind = "local" as const;
  readonly stateDir: string;
  /** Summaries of runs that are over, by file name: they never change again (shared by every view). */
  readonly #over: Map<string, RunSummary>;
  /** The lock set this backend holds now (a command holds one at a time): it fences appends and store changes. */
  #held: StoreLocks | undefined;

  constructor(stateDir: string, over = new Map<string, RunSummary>()) {
    this.stateDir = stateDir;
    this.#over = over;
  }

  /** A view for one command's context (one of a fleet's accounts): its own lock set, the shared run cache. */
  view(): LocalStateBackend {
    return new LocalStateBackend(this.stateDir, this.#over);
  }

  get description(): string {
    return `state directory ${this.stateDir}`;
  }

  async problem(): Promise<string | undefined> {
    return stateDirProblem(this.stateDir);
  }

  async createJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    return new LocalJournal(Journal.create(this.stateDir, runId, word), () => this.#held);
  }

  async reopenJournal(runId: string, word: JournalWord): Promise<RunJournal> {
    return new LocalJournal(Journal.reopen(this.stateDir, runId, word), () => this.#held);
  }

  async listRuns(): Promise<RunSummary[]> {
    const dir = join(this.stateDir, "runs");
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => name.endsWith(".jsonl"));
    } catch {
      return [];
    }
    const runs: RunSummary[] = [];
    for (const name of names.sort()) {
      const kept = this.#over.get(name);
      if (kept !== undefined) {
        runs.push(kept);
        continue;
      }
      let run: RunSummary;
      try {
        run = summarizeRun(name.replace(/\.jsonl$/, ""), join(dir, name));
      } catch {
        continue; // Removed between the listing and the read.
      }
      if (run.finished !== undefined && !isUnfinished(run)) this.#over.set(name, run);
      runs.push(run);
    }
    return runs;
  }

  async readRun(runId: string): Promise<RunSummary | undefined> {
    const path = Journal.pathFor(this.stateDir, runId);
    if (!existsSync(path)) return undefined;
    try {
      return summarizeRun(runId, path);
    } catch {
      return undefined;
    }
  }

  async acquireLocks(
    stores: readonly StoreRef[],
    request: LockRequest,
    options: { takeOverStale?: boolean } = {},
  ): Promise<HeldLocks> {
    const locks = StoreLocks.acquire(this.stateDir, stores, request, options);
    this.#held = locks;
    return {
      release: async () => {
        if (this.#held === locks) this.#held = undefined;
        locks.release();
      },
    };
  }

  fence(): StoreFence | undefined {
    const locks = this.#held;
    if (locks === undefined) return undefined;
    return {
      // No lease here: a lock file is held until it is removed, so holding it now is all there is to confirm.
      confirm: async () => {
        locks.assertHeld();
        return Number.POSITIVE_INFINITY;
      },
    };
  }

  async inspectLocks(stores: readonly StoreRef[]) {
    return inspectLocks(this.stateDir, stores);
  }

  async liveRunIds(): Promise<Set<string>> {
    return liveRunIds(this.stateDir);
  }

  claimOrigin(): ClaimOrigin {
    return { stateDir: this.stateDir };
  }

  async runOfClaim(origin: ClaimOrigin & { runId: string }): Promise<RunSummary | undefined | "unknown"> {
    if (origin.database !== undefined) return "unknown";
    const path = Journal.pathFor(origin.stateDir, origin.runId);
    try {
      return summarizeRun(origin.runId, path);
    } catch {
      // No journal in a state directory we can see: the run died in preflight, having changed nothing. A
      // state directory we cannot see (another host's) leaves us unable to tell.
      return existsSync(origin.stateDir) ? undefined : "unknown";
    }
  }

  /**
   * `configs/<id>.json` holds a config's record; `configs/by/<index key>/<id>` (empty) says that config had
   * that index entry (a store it named, its credential key) when last recorded.
   */
  async noteConfig(config: KnownConfig): Promise<void> {
    ensureStateDir(this.stateDir, "configs");
    const dir = join(this.stateDir, "configs");
    const file = join(dir, `${config.id}.json`);
    try {
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify(config), { mode: 0o600 });
      renameSync(temporary, file);
      for (const index of indexesOf(config)) {
        const entries = join(dir, "by", indexKey(index));
        mkdirSync(entries, { recursive: true, mode: 0o700 });
        writeFileSync(join(entries, config.id), "", { mode: 0o600 });
      }
    } catch (error) {
      throw stateDirError(this.stateDir, `record the config in ${dir}`, error);
    }
  }

  async knownConfigs(index: ConfigIndex): Promise<KnownConfig[]> {
    const dir = join(this.stateDir, "configs");
    let ids: string[];
    try {
      ids = readdirSync(join(dir, "by", indexKey(index)));
    } catch {
      return [];
    }
    const configs: KnownConfig[] = [];
    for (const id of ids) {
      try {
        configs.push(JSON.parse(readFileSync(join(dir, `${id}.json`), "utf8")) as KnownConfig);
      } catch {
        // Being replaced right now, or removed by hand: its next record indexes it again.
      }
    }
    return configs;
  }

  async close(): Promise<void> {}
}
