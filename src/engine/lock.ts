/**
 * One lock per store, so two runs never write the same store at once, even when they come from two configs
 * that share only some of their stores. A command takes the locks of all its stores, in a fixed (sorted)
 * order, all or nothing. A lock file created with O_EXCL holds the owner's pid and host; a lock whose
 * process is gone is stale, and is reported with how to clear it rather than silently taken, because a dead
 * owner usually means an interrupted run that `resume` must finish first. (proper-lockfile judges staleness
 * by mtime, which cannot tell a slow run from a dead one; a pid check can, on the same host.)
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, linkSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ExitCode, RotatorError } from "../errors.js";
import { ensureStateDir, stateDirError } from "./journal.js";

/** A store as locks see it: its name in this config (for messages) and its config-independent identity. */
export interface StoreRef {
  name: string;
  /** The store's identity key (providers/identity.ts), the same for every config naming this store. */
  identity: string;
  /** The store for people, e.g. `dotenv file /etc/app.env`. */
  display?: string;
  /** How rotator 0.1 spelt the identity, to recognise runs and stores it journaled. */
  legacyIdentity?: string;
  /** A file beside the store where an unfinished run claims it (stores on this host's file system). */
  claimFile?: string;
}

export interface LockOwner {
  pid: number;
  host: string;
  runId: string;
  command: string;
  since: string;
  /** The store's identity (absent in locks written before locks were per store). */
  store?: string;
  /** The config file of the run holding the lock, so a stale lock's hint can name it. */
  configFile?: string;
  /** A leased lock (state on PostgreSQL): until when its holder's lease runs, by the database's clock. */
  leaseUntil?: string;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `<state-dir>/locks/<type>-<hash of the identity>.lock`: identities hold paths and URLs, not file names. */
export function lockPath(stateDir: string, storeIdentity: string): string {
  const digest = createHash("sha256").update(storeIdentity).digest("hex").slice(0, 16);
  const type = storeIdentity.split(":", 1)[0]?.replace(/[^A-Za-z0-9-]/g, "") || "store";
  return join(stateDir, "locks", `${type}-${digest}.lock`);
}

/** The part of an identity after `<type>:`, e.g. `dotenv file /etc/app/twilio.env`. */
export function describeIdentity(identity: string): string {
  const colon = identity.indexOf(":");
  return colon < 0 ? identity : identity.slice(colon + 1);
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockOwner;
  } catch {
    return undefined;
  }
}

export type LockState =
  | { state: "free" }
  | { state: "held"; owner: LockOwner }
  | { state: "stale"; owner: LockOwner | undefined };

export function inspectLock(stateDir: string, storeIdentity: string): LockState {
  const path = lockPath(stateDir, storeIdentity);
  let owner: LockOwner | undefined;
  try {
    owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "free" };
    return { state: "stale", owner: undefined };
  }
  if (owner.host === hostname() && !isProcessAlive(owner.pid)) return { state: "stale", owner };
  return { state: "held", owner };
}

/**
 * Runs whose process is alive and holds a lock in this state directory right now: "running", not
 * "interrupted", whatever their journal says so far (a rotate in preflight has no journal yet).
 */
export function liveRunIds(stateDir: string): Set<string> {
  const ids = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(join(stateDir, "locks")).filter((name) => name.endsWith(".lock"));
  } catch {
    return ids;
  }
  for (const name of names) {
    const owner = readOwner(join(stateDir, "locks", name));
    if (owner !== undefined && (owner.host !== hostname() || isProcessAlive(owner.pid))) ids.add(owner.runId);
  }
  return ids;
}

/** Each store's lock, in config order. */
export function inspectLocks(stateDir: string, stores: readonly StoreRef[]): Array<StoreRef & { lock: LockState }> {
  return stores.map((store) => ({ ...store, lock: inspectLock(stateDir, store.identity) }));
}

/** One word for several locks: held if any is held (wait), else stale if any is stale (resume), else free. */
export function overallLockState(locks: ReadonlyArray<{ lock: LockState }>): LockState["state"] {
  if (locks.some((l) => l.lock.state === "held")) return "held";
  if (locks.some((l) => l.lock.state === "stale")) return "stale";
  return "free";
}

/** `run R (rotate, pid 1 on host, since ..., config /x.yaml)`: who holds a lock. */
export function describeOwner(owner: LockOwner | undefined): string {
  if (owner === undefined) return "an unreadable owner";
  const config = owner.configFile === undefined ? "" : `, config ${owner.configFile}`;
  const lease = owner.leaseUntil === undefined ? "" : `, lease until ${owner.leaseUntil}`;
  return `run ${owner.runId} (${owner.command}, pid ${owner.pid} on ${owner.host}, since ${owner.since}${config}${lease})`;
}

/** The locks of every store one command writes, taken together and released together. */
export class StoreLocks {
  /** The lock files held, in the order they were taken. */
  readonly paths: readonly string[];
  /** What this process wrote in each: a lock file holding anything else is no longer ours. */
  readonly #written: ReadonlyMap<string, string>;
  readonly #runId: string;
  #released = false;

  private constructor(taken: ReadonlyArray<{ path: string; content: string }>, runId: string) {
    this.paths = taken.map((lock) => lock.path);
    this.#written = new Map(taken.map((lock) => [lock.path, lock.content]));
    this.#runId = runId;
  }

  /**
   * Throws (exit 5) unless every lock file still holds what this process wrote: one removed by hand, or taken
   * over by a `resume` that judged its holder gone, means another process may be writing the stores now.
   */
  assertHeld(): void {
    for (const [path, content] of this.#written) {
      let now: string | undefined;
      try {
        now = readFileSync(path, "utf8");
      } catch {
        now = undefined;
      }
      if (this.#released || now !== content) throw new LockLostError(this.#runId, path, readOwner(path));
    }
  }

  /**
   * Take every store's lock, in sorted order so two commands never wait on each other crosswise; if one
   * cannot be taken, release the ones already taken and throw (exit 5, the owner named). `takeOverStale` is
   * for `resume` and `rollback`, whose job is to finish the dead owner's run.
   */
  static acquire(
    stateDir: string,
    stores: readonly StoreRef[],
    owner: { runId: string; command: string; configFile?: string },
    options: { takeOverStale?: boolean } = {},
  ): StoreLocks {
    const unique = [...new Map(stores.map((store) => [store.identity, store])).values()].sort((a, b) =>
      a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0,
    );
    ensureStateDir(stateDir, "locks");
    const taken: Array<{ path: string; content: string }> = [];
    try {
      for (const store of unique) taken.push(acquireOne(stateDir, store, owner, options));
    } catch (error) {
      for (const { path } of taken.reverse()) unlinkQuietly(path);
      throw error;
    }
    return new StoreLocks(taken, owner.runId);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    // Only our own: a lock file someone else holds now (after ours was taken from us) is theirs to remove.
    for (const path of [...this.paths].reverse()) {
      if (readFileQuietly(path) === this.#written.get(path)) unlinkQuietly(path);
    }
  }
}

/** This process's lock of a store is gone: removed, or taken over by another process. */
export class LockLostError extends RotatorError {
  override readonly name = "LockLostError";
  constructor(runId: string, path: string, holder: LockOwner | undefined) {
    const now = holder === undefined ? "it was removed" : `it is held by ${describeOwner(holder)}`;
    super(
      `run ${runId}: this process no longer holds its lock ${path} (${now}); it stopped before its next step and changes no store`,
      {
        exitCode: ExitCode.locked,
        hint: "`rotator status` shows who holds the run now; `rotator resume` finishes it once no one does",
      },
    );
  }
}

function acquireOne(
  stateDir: string,
  store: StoreRef,
  owner: { runId: string; command: string; configFile?: string },
  options: { takeOverStale?: boolean },
): { path: string; content: string } {
  const path = lockPath(stateDir, store.identity);
  const record: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    ...owner,
    store: store.identity,
  };
  const content = JSON.stringify(record);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return { path, content };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw stateDirError(stateDir, `create ${path}`, error);
    }
    const state = inspectLock(stateDir, store.identity);
    if (state.state === "free") continue;
    if (state.state === "stale" && options.takeOverStale) {
      takeOverStale(path, state.owner);
      continue;
    }
    throw lockError(state, store, path);
  }
  throw new RotatorError(`could not take the lock ${path} of store ${store.name}`, { exitCode: ExitCode.locked });
}

/**
 * Remove a stale lock without racing another taker: a plain unlink could delete the fresh lock a second
 * `resume` created a moment earlier. Rename is atomic, so only one taker gets the file; whoever gets a file
 * that is not the stale one it inspected puts it back (link fails if the path was taken again meanwhile).
 */
export function takeOverStale(path: string, stale: LockOwner | undefined): void {
  const aside = `${path}.takeover-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // Someone else moved it first: the next attempt sees the new state.
  }
  const grabbed = readOwner(aside);
  const isTheStaleOne =
    stale === undefined ? grabbed === undefined : grabbed?.pid === stale.pid && grabbed.since === stale.since;
  if (!isTheStaleOne) {
    try {
      linkSync(aside, path);
    } catch {
      // The path was taken again meanwhile; that owner's lock stands, and the next attempt reports it.
    }
  }
  unlinkQuietly(aside);
}

function readFileQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to release.
  }
}

function lockError(state: Exclude<LockState, { state: "free" }>, store: StoreRef, path: string): RotatorError {
  const who = describeOwner(state.owner);
  const which = `store ${store.name} (${describeIdentity(store.identity)})`;
  if (state.state === "held") {
    return new RotatorError(`another rotator run holds the lock of ${which}: ${who}`, {
      exitCode: ExitCode.locked,
      hint: "wait for it to finish (`rotator status` shows it); two runs must never write one store at once",
    });
  }
  const resume =
    state.owner?.configFile === undefined ? "rotator resume" : `rotator resume --config ${state.owner.configFile}`;
  return new RotatorError(`a stale lock of ${which} is left by ${who}, whose process is gone`, {
    exitCode: ExitCode.locked,
    hint: `run \`${resume}\` to finish or roll back that run (it takes the lock over); if you are sure no run is in progress, delete ${path}`,
  });
}

export { readOwner as readLockOwner };
