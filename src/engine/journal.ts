/**
 * The run journal: one JSON-lines file per run, appended and fsynced before and after every step, so that
 * after a crash `resume` knows exactly how far the run got. It is also the audit trail, which is why it
 * holds identifiers (key SIDs, store versions, restore points) but never a secret value: every line passes
 * through `redact` as a last line of defence.
 */
import { randomBytes } from "node:crypto";
import {
  accessSync,
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { dirname, join } from "node:path";
import type { RestorePoint } from "../../providers/contract.js";
import { ExitCode, RotatorError } from "../errors.js";
import { redactedJson } from "../util/mask.js";
import { fromDisk, type JournalWord, toDisk } from "./journal-words.js";

/**
 * How a run ended (for now): `interrupted` is a run stopped by a signal between steps, `awaiting-consumers`
 * one that timed out waiting for them; `resume` carries both on.
 */
export type RunStatus = "completed" | "rolled-back" | "awaiting-consumers" | "interrupted" | "failed";

/**
 * The journal's format: 2 names events in the credential type's words (journal-words.ts) and records
 * `journalVersion` in `run-started`; rotator 0.1 wrote version 1 (no field), API keys only.
 */
export const JOURNAL_VERSION = 2;

/**
 * Every event a run records, in the order they can happen, in credential-neutral words (`credential-issued`,
 * `newId`). On disk they are in the type's words (`key-issued`, `newKeyId`): see journal-words.ts.
 */
export type JournalEvent =
  | {
      event: "run-started";
      /** Absent in journals of rotator 0.1 (version 1). */
      journalVersion?: number;
      command: string;
      credentialKey: string;
      accountSid: string;
      credentialType: string;
      /** API keys only: standard or restricted. */
      keyType?: string;
      /** Why an emergency rotation was started (`--reason`). */
      reason?: string;
      /** `sync` for `rotator sync`; absent (rotate) in older runs. */
      mode?: "rotate" | "sync";
      emergency?: boolean;
      revokeImmediately?: boolean;
      /** `rotate --allow-shared-revoke`: the revoke goes ahead though stores of other configs hold the old credential. */
      allowSharedRevoke?: boolean;
      /**
       * `identity` is the store's config-independent identity (context.ts storeIdentity), which locks and the
       * overlap check use; absent in runs started before it was journaled (then `<type>:<location>`). `entry` is
       * the store's config entry as the run started with it (references, never a secret: see facts.ts); absent
       * in runs started before the run's facts were journaled.
       */
      stores: Array<{
        name: string;
        type: string;
        location: string;
        identity?: string;
        entry?: Record<string, unknown>;
      }>;
      /** What else binds the run (facts.ts): absent in runs started before it was journaled. */
      facts?: JournaledFacts;
      /** The absolute path of the config file the run was started with (absent in older runs). */
      configFile?: string;
      pid: number;
      host: string;
      version: string;
    }
  | { event: "preflight-passed"; oldId: string; storeVersions: Record<string, string | null> }
  /** An Auth Token run is about to claim its account's token slot (token-slot.ts): a mark named after the run. */
  | { event: "token-slot-claiming"; friendlyName: string }
  | { event: "issue-started"; friendlyName: string }
  /** The create was refused before anything was made (so rollback has nothing of this run's to delete). */
  | { event: "issue-refused"; error: string }
  | { event: "credential-issued"; newId: string; createdAt: string }
  /** `rotator sync`: the credential the operator supplied, checked with Twilio; nothing was issued. */
  | { event: "credential-supplied"; newId: string; source: string }
  | { event: "credential-verified"; newId: string; attempts: number; elapsedMs: number }
  /**
   * The run's new credential no longer authenticates (replaced, deleted or promoted away by someone else): it
   * is not this run's to delete any more, and the run ends, back on the old one if that still works.
   */
  | { event: "credential-lost"; newId: string; oldWorks?: boolean }
  /**
   * The stores carry the credential being replaced beside the new one (an Auth Token's previous token, for
   * validating webhooks across the promote), until `keepSeconds` after the revoke: then it is retired.
   */
  | { event: "previous-kept"; previousId: string; keepSeconds: number; cost?: string }
  | { event: "store-prepared"; store: string; restorePoint: RestorePoint }
  | { event: "store-written"; store: string; version: string | null }
  | { event: "stores-committed" }
  /** A store another system fills (`syncedFrom`) was asked to refresh; `detail` says how (or why it could not be). */
  | { event: "store-sync-requested"; store: string; detail: string }
  /**
   * The wait for those stores to hold the new credential (`forward`), the old one again on rollback (`back`), or the
   * new one without the previous credential after the retire write (`retired`).
   */
  | { event: "stores-synced"; direction: SyncDirection; converged: boolean; laggards: string[] }
  /** A consumer's canary: the pods restarted or reloaded first, by name and revision, and how it went. */
  | {
      event: "consumer-canary";
      consumer: string;
      outcome: "passed" | "failed" | "stopped";
      detail: string;
      pods: JournaledPod[];
    }
  | {
      event: "consumers-checked";
      converged: boolean;
      results: Array<{
        name: string;
        state: string;
        detail: string;
        convergedAt: string | null;
        reloaded: string;
        /** What the reload did (a rollout and its generation), when it said. */
        reloadDetail?: string;
        /** A `kubernetes` consumer's pods at the last check: names and revisions, never data. */
        pods?: JournaledPod[];
      }>;
    }
  | { event: "stores-checked"; missing: string[] }
  | {
      event: "consumers-restored";
      converged: boolean;
      laggards: string[];
      /** Not answering, and never seen on the new credential in this run: not waited for. */
      unreachable?: string[];
    }
  | { event: "revoke-started"; oldId: string }
  | { event: "old-credential-revoked"; oldId: string; outcome: "deleted" | "absent"; refusedWith20003: boolean }
  /** After the revoke and the time the previous credential is kept: its second write (every store) begins. */
  | { event: "retire-started"; previousId: string }
  | { event: "store-retire-prepared"; store: string; restorePoint: RestorePoint }
  | { event: "store-retired"; store: string; version: string | null }
  /** Every store holds the new credential without the previous one. */
  | { event: "previous-retired"; previousId: string }
  /** A store's retire write undone (another store's failed): it holds the previous credential beside the new again. */
  | { event: "store-retire-undone"; store: string }
  | { event: "store-retire-undo-failed"; store: string; error: string }
  /** The admin credential the run started with stopped working (it was the one rotated); the run went on with another. */
  | { event: "admin-switched"; from: string; to: string }
  | { event: "rollback-started"; reason: string }
  | { event: "store-rolled-back"; store: string }
  | { event: "store-rollback-failed"; store: string; error: string }
  /** Someone else changed the store during the run; rotator leaves it to the operator (engine/store-failure.ts). */
  | { event: "store-handed-over"; store: string; reason: string }
  | { event: "credential-discarded"; newId: string; outcome: "deleted" | "absent" }
  | { event: "stores-released" }
  | {
      event: "resume-started";
      pid: number;
      host: string;
      /** The config file the resuming command read, and how it differs from the run's facts (facts.ts). */
      configFile?: string;
      differences?: string[];
    }
  /** `resume --allow-shared-revoke`: the revoke may go ahead though stores of other configs hold the old credential. */
  | { event: "shared-revoke-allowed"; command: string }
  /** `--drop-consumer`: consumers the run started with that it no longer waits for, on the operator's word. */
  | { event: "consumers-dropped"; names: string[]; command: string }
  | { event: "run-finished"; status: RunStatus; exitCode: number; error?: string; next?: string };

/** What a wait for stores others fill waits for (journaled `stores-synced`). */
export type SyncDirection = "forward" | "back" | "retired";

export type JournalRecord = JournalEvent & { ts: string; seq: number; runId: string };

/**
 * A run's facts besides its stores (facts.ts): the config's directory (relative paths in entries are resolved
 * against it), the admin credential's source, Twilio's address, the credential's settings and the consumers,
 * each as the config gave it (references such as `{ env: NAME }` stay references).
 */
export interface JournaledFacts {
  baseDir: string;
  admin: Record<string, unknown>;
  baseUrl?: string;
  credential: Record<string, unknown>;
  consumers: Array<Record<string, unknown>>;
  /** `rotate --admin-from-env NAME`: the variable whose token stands in when the configured admin is refused. */
  adminFallbackEnv?: string;
  /** The account whose credential the admin is (a fleet's parent), when it is not the rotated account. */
  adminAccount?: string;
}

/** A pod as the journal records it: its name, the workload revision it ran, and what it said (masked). */
export interface JournaledPod {
  name: string;
  revision: string;
  state: string;
  reported?: string;
}

export function defaultStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base =
    env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "rotator");
}

/** Sortable, unique, and safe in a file name and a Twilio FriendlyName: 20261127T051000Z-3f9a1c. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  // Runs are listed in the order of their ids (status, "the last run"): the suffix starts with the millisecond,
  // as 3 hex digits, so two runs started in the same second still sort in the order they started. The other 3
  // are random: two hosts starting in the same millisecond get different ids.
  const millisecond = Math.floor((now.getUTCMilliseconds() * 4096) / 1000)
    .toString(16)
    .padStart(3, "0");
  return `${stamp}-${millisecond}${randomBytes(2).toString("hex").slice(0, 3)}`;
}

function runsDir(stateDir: string): string {
  return join(stateDir, "runs");
}

/** Create `<state-dir>/runs` (or `locks`, `configs`); a state directory that cannot be created is bad input (exit 2). */
export function ensureStateDir(stateDir: string, sub: "runs" | "locks" | "configs" = "runs"): void {
  const dir = join(stateDir, sub);
  try {
    // 0700: the journal names keys and stores; no one else needs to read it.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw stateDirError(stateDir, `create ${dir}`, error);
  }
}

const ERRNO_MEANING: Record<string, string> = {
  ENOTDIR: "part of the path is a file, not a directory",
  EEXIST: "a file of that name is in the way",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links",
};

/**
 * A file-system error (it has an errno code) on the state directory becomes a RotatorError with exit 2 that
 * names the directory and how to fix it; anything else is returned as it is.
 */
export function stateDirError(stateDir: string, action: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return error;
  const meaning = ERRNO_MEANING[code];
  return new RotatorError(
    `cannot use the state directory ${stateDir}: could not ${action} (${code}${meaning === undefined ? "" : `: ${meaning}`})`,
    {
      exitCode: ExitCode.badInput,
      hint: "pass --state-dir pointing at a directory rotator can create and write (default: $XDG_STATE_HOME/rotator, else ~/.local/state/rotator)",
      cause: error,
    },
  );
}

/**
 * Why rotate could not create its journal and locks in this state directory, or undefined when it could:
 * the same judgement as `ensureStateDir`, made without creating anything (for `plan`).
 */
export function stateDirProblem(stateDir: string): string | undefined {
  // The nearest folder that exists is where mkdir would start creating.
  let existing = stateDir;
  for (;;) {
    try {
      const stats = statSync(existing);
      if (!stats.isDirectory()) {
        return `cannot use the state directory ${stateDir}: ${existing} is a file, not a directory; pass --state-dir pointing at a directory rotator can create and write`;
      }
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
  }
  for (const dir of [existing, join(stateDir, "runs"), join(stateDir, "locks"), join(stateDir, "configs")]) {
    try {
      if (!existsSync(dir)) continue;
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      const meaning = ERRNO_MEANING[code];
      return `cannot use the state directory ${stateDir}: ${dir} is not writable (${code}${meaning === undefined ? "" : `: ${meaning}`}); pass --state-dir pointing at a directory rotator can create and write`;
    }
  }
  return undefined;
}

export class Journal {
  readonly runId: string;
  readonly path: string;
  /** The credential type's word the journal is written in ("key", "token"). */
  readonly word: JournalWord;
  #seq: number;

  private constructor(runId: string, path: string, seq: number, word: JournalWord) {
    this.runId = runId;
    this.path = path;
    this.word = word;
    this.#seq = seq;
  }

  /** Where run `runId`'s journal lives in a state directory. */
  static pathFor(stateDir: string, runId: string): string {
    return join(runsDir(stateDir), `${runId}.jsonl`);
  }

  static create(stateDir: string, runId: string, word: JournalWord = "key"): Journal {
    ensureStateDir(stateDir);
    const path = join(runsDir(stateDir), `${runId}.jsonl`);
    try {
      closeSync(openSync(path, "wx", 0o600));
    } catch (error) {
      // EEXIST would be a run id used twice: a bug, not the directory's fault.
      throw (error as NodeJS.ErrnoException).code === "EEXIST"
        ? error
        : stateDirError(stateDir, `create ${path}`, error);
    }
    return new Journal(runId, path, 0, word);
  }

  /** Reopen a run's journal to append to it (resume). */
  static reopen(stateDir: string, runId: string, word: JournalWord = "key"): Journal {
    const path = join(runsDir(stateDir), `${runId}.jsonl`);
    const records = readJournal(path);
    // A crash mid-append can leave a torn last line without its newline; end it, so the next record
    // starts on a line of its own instead of being glued to the fragment and lost with it.
    const text = readFileSync(path, "utf8");
    if (text.length > 0 && !text.endsWith("\n")) appendFileSync(path, "\n");
    return new Journal(runId, path, Math.max(0, ...records.map((r) => r.seq)), word);
  }

  append(event: JournalEvent): JournalRecord {
    const { record, line } = this.#next(event);
    const fd = openSync(this.path, "a", 0o600);
    try {
      writeSync(fd, line);
      // The journal is only worth having if it survives the crash it exists for.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return record;
  }

  /**
   * `append`, with the write and the fsync off the event loop: resolves once the record is durable. A fleet
   * runs many accounts' journals at once, and a synchronous fsync would hold every other account still.
   */
  async appendDurably(event: JournalEvent): Promise<JournalRecord> {
    const { record, line } = this.#next(event);
    const file = await open(this.path, "a", 0o600);
    try {
      await file.write(line);
      await file.sync();
    } finally {
      await file.close();
    }
    return record;
  }

  #next(event: JournalEvent): { record: JournalRecord; line: string } {
    this.#seq += 1;
    const record = { ts: new Date().toISOString(), seq: this.#seq, runId: this.runId, ...event } as JournalRecord;
    return { record, line: `${redactedJson(toDisk(record, this.word))}\n` };
  }

  records(): JournalRecord[] {
    return readJournal(this.path);
  }
}

export function readJournal(path: string): JournalRecord[] {
  const text = readFileSync(path, "utf8");
  const records: JournalRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      records.push(fromDisk(JSON.parse(line) as Record<string, unknown>) as JournalRecord);
    } catch {
      // A torn line from a crash mid-append: every record before it was fsynced, and records after it
      // (appended by a later resume) are on lines of their own.
    }
  }
  return records;
}

export interface RunSummary {
  runId: string;
  path: string;
  records: JournalRecord[];
  started: Extract<JournalRecord, { event: "run-started" }> | undefined;
  finished: Extract<JournalRecord, { event: "run-finished" }> | undefined;
}

/** All runs in the state directory, oldest first. */
export function listRuns(stateDir: string): RunSummary[] {
  let names: string[];
  try {
    names = readdirSync(runsDir(stateDir)).filter((name) => name.endsWith(".jsonl"));
  } catch {
    return [];
  }
  return names.sort().map((name) => summarizeRun(name.replace(/\.jsonl$/, ""), join(runsDir(stateDir), name)));
}

/** One run's journal, read and summarised. Throws when the file cannot be read. */
export function summarizeRun(runId: string, path: string): RunSummary {
  const records = readJournal(path);
  const started = records.find((r) => r.event === "run-started") as RunSummary["started"];
  const finishedAll = records.filter((r) => r.event === "run-finished") as Array<NonNullable<RunSummary["finished"]>>;
  return { runId, path, records, started, finished: finishedAll.at(-1) };
}

/**
 * A run that `resume` still has work for: it crashed (no outcome), is awaiting consumers, or failed half-way
 * with a next step recorded (a rollback or a revoke to retry).
 */
export function isUnfinished(run: RunSummary): boolean {
  if (run.finished === undefined) return run.started !== undefined;
  return (
    run.finished.status === "awaiting-consumers" ||
    run.finished.status === "interrupted" ||
    (run.finished.status === "failed" && run.finished.next !== undefined)
  );
}

export function journalMode(path: string): number {
  return statSync(path).mode & 0o777;
}

export const processIdentity = () => ({ pid: process.pid, host: hostname() });
