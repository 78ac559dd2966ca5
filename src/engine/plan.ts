/**
 * `rotator plan`: the dry run. It runs the same preflight as `rotate`, checks the same lock and unfinished
 * runs, and lists the steps rotate would take with masked identifiers. It writes nothing: no journal, no
 * lock, no store, no Twilio call that changes state.
 */
import { credentialId } from "../../providers/contract.js";
import { ExitCode } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { claimProblems } from "./claims.js";
import type { EngineContext } from "./context.js";
import { stateDirProblem } from "./journal.js";
import { describeOwner, inspectLocks, liveRunIds } from "./lock.js";
import { otherHolders, overlapError, sharedCredentialError } from "./overlap.js";
import { credentialAge, runPreflight } from "./preflight.js";
import { unfinishedRunFor } from "./reenter.js";
import type { CommandResult } from "./result.js";

export interface PlanResult extends CommandResult {
  steps: string[];
  problems: string[];
  notes: string[];
  currentKeyAgeDays: number | null;
}

export async function plan(
  context: EngineContext,
  options: { emergency?: boolean; allowSharedRevoke?: boolean } = {},
): Promise<PlanResult> {
  const { loaded, stores, stateDir } = context;
  const { config } = loaded;
  const problems: string[] = [];

  // Rotate creates its journal and locks here: a state directory it could not write fails it at once.
  const stateDirIssue = stateDirProblem(stateDir);
  if (stateDirIssue !== undefined) problems.push(stateDirIssue);
  for (const { name, lock } of inspectLocks(stateDir, context.refs)) {
    if (lock.state === "held")
      problems.push(`another run holds the lock of store ${name}: ${describeOwner(lock.owner)}`);
    if (lock.state === "stale")
      problems.push(
        `a stale lock of store ${name} is left by ${describeOwner(lock.owner)}, whose process is gone; \`rotator resume\` will take it over`,
      );
  }
  const unfinished = unfinishedRunFor(context);
  if (unfinished !== undefined && liveRunIds(stateDir).has(unfinished.runId)) {
    problems.push(`run ${unfinished.runId} is running now; wait for it to finish`);
  } else if (unfinished !== undefined) {
    problems.push(`run ${unfinished.runId} is not finished; run \`rotator resume\` first`);
  } else {
    // The same check as rotate's: another config's unfinished run sharing a store.
    const overlap = overlapError(context, "rotate");
    if (overlap !== undefined) problems.push(`${overlap.message}; ${overlap.hint}`);
  }

  problems.push(...claimProblems(context.refs));

  const preflight = await runPreflight(context, options);
  problems.push(...preflight.problems);

  const oldId = preflight.current === undefined ? undefined : credentialId(preflight.current);
  if (oldId !== undefined && !options.allowSharedRevoke) {
    const holders = otherHolders(context, oldId);
    if (holders.length > 0) {
      const error = sharedCredentialError(holders, oldId);
      problems.push(`${error.message}; ${error.hint}`);
    }
  }
  const revocable = oldId !== undefined && preflight.currentInfo !== undefined;
  const age = preflight.currentInfo === undefined ? undefined : credentialAge(preflight.currentInfo.createdAt);
  const ageDays = age === undefined || age.skewed ? null : age.days;
  const keyKind = config.credential.keyType === "restricted" ? "restricted (IAM v1)" : "standard";
  const steps = [
    `preflight: admin credential for ${maskSid(config.twilio.accountSid)}; stores ${stores.map((s) => s.name).join(", ")} readable and writable; they agree on ${maskSid(oldId)}${ageDays === null ? "" : ` (${ageDays} days old, rotates at ${config.credential.maxAgeDays})`}; take the lock`,
    `create a ${keyKind} API key named "${config.credential.friendlyNamePrefix}-<run id>"`,
    `check the new key authenticates: GET ${config.credential.verifyPath.replace("{AccountSid}", maskSid(config.twilio.accountSid))} (up to ${config.verify.newKeyTimeoutSeconds} s)`,
    ...preflight.stores.map(
      (f, i) =>
        `write store ${i + 1}/${stores.length} "${f.name}" (${f.location}): ${maskSid(f.snapshot?.credential === undefined ? undefined : credentialId(f.snapshot.credential))} -> new key, read back and compare`,
    ),
    preflight.consumers.length === 0
      ? "consumers: none configured"
      : `reload and wait for ${preflight.consumers.length} consumer(s) to use the new key (up to ${config.verify.consumersTimeoutSeconds} s): ${preflight.consumers.map((c) => `${c.name} (${c.location}, now: ${c.report.detail})`).join("; ")}`,
    revocable
      ? `revoke the old key ${maskSid(oldId)} and confirm Twilio refuses it (20003)`
      : "revoke: nothing to revoke (no current key in Twilio)",
    "finish: journal the outcome, release the lock",
    `on any failure before the revoke: restore ${[...stores]
      .reverse()
      .map((s) => s.name)
      .join(", ")} (in that order) and delete the new key`,
  ];
  return {
    command: "plan",
    status: "planned",
    exitCode: problems.length > 0 ? ExitCode.badInput : ExitCode.completed,
    runId: null,
    oldKey: oldId === undefined ? null : maskSid(oldId),
    newKey: null,
    stores: stores.map((s) => ({ name: s.name, type: s.type, outcome: "unchanged" as const })),
    warnings: [],
    steps,
    problems,
    notes: preflight.notes,
    currentKeyAgeDays: ageDays,
    consumers: preflight.consumers.map((c) => ({
      name: c.name,
      type: c.type,
      state: c.report.state,
      detail: c.report.detail,
      convergedAt: null,
    })),
    ...(problems.length > 0 ? { error: `rotate would fail: ${problems.length} problem(s)` } : {}),
  };
}
