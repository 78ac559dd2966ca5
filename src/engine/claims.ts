/**
 * Claims beside the store: a run's mark on a store on this host's file system, kept for as long as the run
 * is unfinished. Locks and journals live in a state directory, and two runs given two `--state-dir`s never
 * see each other's; a claim sits next to the store itself (`.<file>.rotator-claim`), so every run that
 * writes the file sees it, whatever its state directory.
 *
 * A claim names its run and that run's state directory, so whoever meets it can tell:
 * - the run is alive (its process exists): the store is busy, exit 5;
 * - the run is unfinished (crashed, awaiting consumers): exit 6, with the command that finishes it;
 * - the run is over, or never got as far as a journal: the claim is stale and is taken over.
 *
 * Servers (Vault, AWS, Azure) offer no such place that every client honours; for them the lock in the state
 * directory is the only exclusion, which the README says plainly.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { ExitCode, RotatorError } from "../errors.js";
import { isUnfinished, type RunSummary, summarizeRun } from "./journal.js";
import { isProcessAlive, type StoreRef } from "./lock.js";

export interface ClaimRecord {
  runId: string;
  /** The state directory holding the run's journal (absolute). */
  stateDir: string;
  configFile?: string;
  pid: number;
  host: string;
  since: string;
}

export type ClaimState =
  | { state: "none" }
  | { state: "ours" }
  | { state: "live"; claim: ClaimRecord }
  | { state: "unfinished"; claim: ClaimRecord }
  | { state: "stale"; claim: ClaimRecord | undefined };

function readClaim(path: string): ClaimRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ClaimRecord;
  } catch {
    return undefined;
  }
}

function journalOf(claim: ClaimRecord): RunSummary | undefined {
  const path = join(claim.stateDir, "runs", `${claim.runId}.jsonl`);
  try {
    return summarizeRun(claim.runId, path);
  } catch {
    return undefined;
  }
}

/** What the claim beside one store says, judged for run `runId` (undefined: for a run not started yet). */
export function inspectClaim(ref: StoreRef, runId: string | undefined): ClaimState {
  if (ref.claimFile === undefined) return { state: "none" };
  const path = ref.claimFile;
  if (!existsSync(path)) return { state: "none" };
  const claim = readClaim(path);
  if (claim === undefined) return { state: "stale", claim: undefined };
  if (runId !== undefined && claim.runId === runId) return { state: "ours" };
  if (claim.host === hostname() && isProcessAlive(claim.pid) && claim.pid !== process.pid) {
    return { state: "live", claim };
  }
  const run = journalOf(claim);
  if (run !== undefined) return isUnfinished(run) ? { state: "unfinished", claim } : { state: "stale", claim };
  // No journal in a state directory we can see: the run died in preflight, having changed nothing. A state
  // directory we cannot see (another host's) leaves us unable to tell: the safe side is "unfinished".
  return existsSync(claim.stateDir) ? { state: "stale", claim } : { state: "unfinished", claim };
}

/** `run R (config /x.yaml, state dir /s)`. */
export function describeClaim(claim: ClaimRecord): string {
  const config = claim.configFile === undefined ? "" : `, config ${claim.configFile}`;
  return `run ${claim.runId} (pid ${claim.pid} on ${claim.host}${config}, state dir ${claim.stateDir})`;
}

/** The error a claim of another run means for a command that wants the store. */
export function claimError(ref: StoreRef, state: ClaimState): RotatorError | undefined {
  const which = `store ${ref.name} (${ref.display ?? ref.identity})`;
  if (state.state === "live") {
    return new RotatorError(`another rotator run is using ${which}: ${describeClaim(state.claim)}`, {
      exitCode: ExitCode.locked,
      hint: "wait for it to finish; two runs must never write one store at once",
    });
  }
  if (state.state === "unfinished") {
    const config = state.claim.configFile === undefined ? "" : ` --config ${state.claim.configFile}`;
    return new RotatorError(
      `${which} is claimed by the unfinished ${describeClaim(state.claim)}; rotating it now could revoke the key that run's stores still hold`,
      {
        exitCode: ExitCode.unfinishedRun,
        hint: `finish it first with \`rotator resume${config} --state-dir ${state.claim.stateDir}\` (or undo it with \`rotator rollback\` and the same options); if that run's state directory is gone for good, delete ${ref.claimFile}`,
      },
    );
  }
  return undefined;
}

/**
 * Claim every store that has a claim file, for run `record.runId`, all or nothing. A stale claim is taken
 * over; a claim of a live or unfinished run throws (exit 5 or 6). Returns the claim files now ours.
 */
export function claimStores(refs: readonly StoreRef[], record: ClaimRecord): string[] {
  const taken: string[] = [];
  try {
    for (const ref of refs) {
      if (ref.claimFile === undefined) continue;
      claimOne(ref, record);
      taken.push(ref.claimFile);
    }
  } catch (error) {
    for (const path of taken) releaseClaimFile(path, record.runId);
    throw error;
  }
  return taken;
}

function claimOne(ref: StoreRef, record: ClaimRecord): void {
  const path = ref.claimFile as string;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, JSON.stringify(record));
      } finally {
        closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new RotatorError(
          `cannot claim store ${ref.name}: could not create ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
          {
            exitCode: ExitCode.badInput,
            hint: "rotator needs to create files in the store file's directory",
            cause: error,
          },
        );
      }
    }
    const state = inspectClaim(ref, record.runId);
    if (state.state === "ours") return;
    const refusal = claimError(ref, state);
    if (refusal !== undefined) throw refusal;
    if (state.state === "stale") takeOver(path, state.claim);
  }
  throw new RotatorError(`could not claim store ${ref.name} (${path}): it keeps changing hands`, {
    exitCode: ExitCode.locked,
  });
}

/** Move a stale claim aside atomically; if what was moved is not the stale one inspected, put it back. */
function takeOver(path: string, stale: ClaimRecord | undefined): void {
  const aside = `${path}.takeover-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const grabbed = readClaim(aside);
  const same =
    stale === undefined ? grabbed === undefined : grabbed?.runId === stale.runId && grabbed.since === stale.since;
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // Claimed again meanwhile: that claim stands.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // gone already
  }
}

function releaseClaimFile(path: string, runId: string): void {
  if (readClaim(path)?.runId !== runId) return;
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Drop this run's claims (the run is over: completed, rolled back, or failed with nothing left to do). */
export function releaseClaims(refs: readonly StoreRef[], runId: string): void {
  for (const ref of refs) if (ref.claimFile !== undefined) releaseClaimFile(ref.claimFile, runId);
}

/** Problems the claims beside this config's stores would cause a new run (for plan and status). */
export function claimProblems(refs: readonly StoreRef[]): string[] {
  const problems: string[] = [];
  for (const ref of refs) {
    const error = claimError(ref, inspectClaim(ref, undefined));
    if (error !== undefined) problems.push(`${error.message}; ${error.hint ?? ""}`.replace(/; $/, ""));
  }
  return problems;
}

export const claimRecord = (runId: string, stateDir: string, configFile: string | undefined): ClaimRecord => ({
  runId,
  stateDir: resolve(stateDir),
  ...(configFile === undefined ? {} : { configFile }),
  pid: process.pid,
  host: hostname(),
  since: new Date().toISOString(),
});
