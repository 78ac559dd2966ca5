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
import { resolve } from "node:path";
import { ExitCode, RotatorError } from "../errors.js";
import { isUnfinished } from "./journal.js";
import { isProcessAlive, type StoreRef } from "./lock.js";
import type { StateBackend } from "./state/backend.js";
import { stateOf } from "./state/index.js";

/** What the claim functions need of a context: its stores and where its state is. */
type ClaimContext = { refs: readonly StoreRef[]; stateDir: string; state?: StateBackend };

export interface ClaimRecord {
  runId: string;
  /** The state directory holding the run's journal (absolute). */
  stateDir: string;
  /** The PostgreSQL database (its instance id) holding the run's journal, when the state is there. */
  database?: string;
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

/**
 * What the claim beside one store says, judged for run `runId` (undefined: for a run not started yet). The
 * claim's journal is looked up where the claim says it is, through `state` (which knows whether it can see
 * there: a database it is not connected to, another host's state directory).
 */
export async function inspectClaim(ref: StoreRef, runId: string | undefined, state: StateBackend): Promise<ClaimState> {
  if (ref.claimFile === undefined) return { state: "none" };
  const path = ref.claimFile;
  if (!existsSync(path)) return { state: "none" };
  const claim = readClaim(path);
  if (claim === undefined) return { state: "stale", claim: undefined };
  if (runId !== undefined && claim.runId === runId) return { state: "ours" };
  if (claim.host === hostname() && isProcessAlive(claim.pid) && claim.pid !== process.pid) {
    return { state: "live", claim };
  }
  const run = await state.runOfClaim(claim);
  // Unable to tell (a journal elsewhere): the safe side is "unfinished".
  if (run === "unknown") return { state: "unfinished", claim };
  // No journal where the claim says: the run died in preflight, having changed nothing.
  if (run === undefined) return { state: "stale", claim };
  return isUnfinished(run) ? { state: "unfinished", claim } : { state: "stale", claim };
}

/** `run R (config /x.yaml, state dir /s)`, or `…, state in PostgreSQL, instance <id>)`. */
export function describeClaim(claim: ClaimRecord): string {
  const config = claim.configFile === undefined ? "" : `, config ${claim.configFile}`;
  const state =
    claim.database === undefined ? `state dir ${claim.stateDir}` : `state in PostgreSQL, instance ${claim.database}`;
  return `run ${claim.runId} (pid ${claim.pid} on ${claim.host}${config}, ${state})`;
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
        // With PostgreSQL state the journal is in the database the config's `state:` names: --state-dir
        // would point resume at a local directory that never held it.
        hint:
          state.claim.database === undefined
            ? `finish it first with \`rotator resume${config} --state-dir ${state.claim.stateDir}\` (or undo it with \`rotator rollback\` and the same options); if that run's state directory is gone for good, delete ${ref.claimFile}`
            : `finish it first with \`rotator resume${config}\`, its config's \`state:\` naming the PostgreSQL database that holds the run (or undo it with \`rotator rollback\` and the same options); if that database is gone for good, delete ${ref.claimFile}`,
      },
    );
  }
  return undefined;
}

/**
 * Claim every store that has a claim file, for run `record.runId`, all or nothing. A stale claim is taken
 * over; a claim of a live or unfinished run throws (exit 5 or 6). Returns the claim files now ours.
 */
export async function claimStores(context: ClaimContext, record: ClaimRecord): Promise<string[]> {
  const taken: string[] = [];
  try {
    for (const ref of context.refs) {
      if (ref.claimFile === undefined) continue;
      await claimOne(ref, record, stateOf(context));
      taken.push(ref.claimFile);
    }
  } catch (error) {
    for (const path of taken) releaseClaimFile(path, record.runId);
    throw error;
  }
  return taken;
}

async function claimOne(ref: StoreRef, record: ClaimRecord, backend: StateBackend): Promise<void> {
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
    const state = await inspectClaim(ref, record.runId, backend);
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
export async function claimProblems(context: ClaimContext): Promise<string[]> {
  const problems: string[] = [];
  for (const ref of context.refs) {
    const error = claimError(ref, await inspectClaim(ref, undefined, stateOf(context)));
    if (error !== undefined) problems.push(`${error.message}; ${error.hint ?? ""}`.replace(/; $/, ""));
  }
  return problems;
}

/** The claim run `runId` puts beside each of the context's local stores. */
export const claimRecord = (context: ClaimContext, runId: string, configFile: string | undefined): ClaimRecord => {
  const origin = stateOf(context).claimOrigin();
  return {
    runId,
    stateDir: resolve(origin.stateDir),
    ...(origin.database === undefined ? {} : { database: origin.database }),
    ...(configFile === undefined ? {} : { configFile }),
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
  };
};
