/**
 * One lock per credential, so two runs never rotate the same credential at once. A lock file created with
 * O_EXCL holds the owner's pid and host; a lock whose process is gone is stale, and is reported with how to
 * clear it rather than silently taken, because a dead owner usually means an interrupted run that `resume`
 * must finish first. (proper-lockfile judges staleness by mtime, which cannot tell a slow run from a dead
 * one; a pid check can, on the same host.)
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ExitCode, RotatorError } from "../errors.js";

interface LockOwner {
  pid: number;
  host: string;
  runId: string;
  command: string;
  since: string;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockPath(stateDir: string, credentialKey: string): string {
  return join(stateDir, "locks", `${credentialKey}.lock`);
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

export function inspectLock(stateDir: string, credentialKey: string): LockState {
  const path = lockPath(stateDir, credentialKey);
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

export class CredentialLock {
  readonly path: string;
  #released = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Take the lock. `takeOverStale` is for `resume`, whose job is to finish the dead owner's run.
   */
  static acquire(
    stateDir: string,
    credentialKey: string,
    owner: { runId: string; command: string },
    options: { takeOverStale?: boolean } = {},
  ): CredentialLock {
    const path = lockPath(stateDir, credentialKey);
    mkdirSync(join(stateDir, "locks"), { recursive: true, mode: 0o700 });
    const record: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), ...owner };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, JSON.stringify(record));
        closeSync(fd);
        return new CredentialLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const state = inspectLock(stateDir, credentialKey);
      if (state.state === "free") continue;
      if (state.state === "stale" && options.takeOverStale) {
        unlinkSync(path);
        continue;
      }
      throw lockError(state, path);
    }
    throw new RotatorError(`could not take the lock ${path}`, { exitCode: ExitCode.locked });
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function lockError(state: Exclude<LockState, { state: "free" }>, path: string): RotatorError {
  const owner = state.owner;
  const who = owner
    ? `run ${owner.runId} (${owner.command}, pid ${owner.pid} on ${owner.host}, since ${owner.since})`
    : "an unreadable owner";
  if (state.state === "held") {
    return new RotatorError(`another rotator run holds the lock for this credential: ${who}`, {
      exitCode: ExitCode.locked,
      hint: "wait for it to finish (`rotator status` shows it); two runs must never rotate one credential at once",
    });
  }
  return new RotatorError(`a stale lock is left by ${who}, whose process is gone`, {
    exitCode: ExitCode.locked,
    hint: `run \`rotator resume\` to finish or roll back that run (it takes the lock over); if you are sure no run is in progress, delete ${path}`,
  });
}

export { readOwner as readLockOwner };
