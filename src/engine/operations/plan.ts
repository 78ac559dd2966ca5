/**
 * `rotator plan`: the dry run. It runs the same preflight as `rotate`, checks the same lock and unfinished
 * runs, and lists the steps rotate would take with masked identifiers. It writes nothing: no journal, no
 * lock, no store, no Twilio call that changes state.
 */
import { credentialId } from "../../credentials/stored.js";
import { ExitCode, errorMessage } from "../../errors.js";
import { maskSid } from "../../util/mask.js";
import { describeAdminDependents, listAdminDependents } from "../admin-dependents.js";
import { claimProblems } from "../claims.js";
import type { EngineContext } from "../context.js";
import { fencingNotes } from "../fence.js";
import { describeOwner } from "../lock.js";
import { otherHolders, overlapError, sharedCredentialError } from "../overlap.js";
import { runPreflight } from "../preflight.js";
import { unfinishedRunFor } from "../reenter.js";
import type { CommandResult } from "../result.js";
import { stateOf } from "../state/index.js";
import { FOR_PEOPLE, notesByStore, type PlanAction, type PlanForPeople, planSummary } from "../step-plans.js";
import { planRotation } from "../step-table.js";
import { adoptAdminFromEnv } from "../supplied-admin.js";
import { tokenSlotProblems } from "../token-slot.js";

export interface PlanResult extends CommandResult {
  /** The steps in words, as printed. */
  steps: string[];
  /** The same steps, structured. */
  actions: PlanAction[];
  /** `1 key to create, 2 stores to update, 1 key to revoke`. */
  summary: string;
  problems: string[];
  notes: string[];
  currentKeyAgeDays: number | null;
  /** The same plan as people read it (not in `--json`). */
  [FOR_PEOPLE]: PlanForPeople;
}

export async function plan(
  context: EngineContext,
  options: {
    emergency?: boolean;
    revokeImmediately?: boolean;
    allowSharedRevoke?: boolean;
    adminFromEnv?: string;
  } = {},
): Promise<PlanResult> {
  // What rotate would do with it: read and checked, never used to change anything here.
  if (options.adminFromEnv !== undefined) await adoptAdminFromEnv(context, options.adminFromEnv);
  const { stores } = context;
  const state = stateOf(context);
  const problems: string[] = [];

  // Rotate creates its journal and locks here: a state directory it could not write fails it at once.
  const stateIssue = await state.problem();
  if (stateIssue !== undefined) problems.push(stateIssue);
  for (const { name, lock } of await state.inspectLocks(context.refs)) {
    if (lock.state === "held")
      problems.push(`another run holds the lock of store ${name}: ${describeOwner(lock.owner)}`);
    if (lock.state === "stale")
      problems.push(
        `a stale lock of store ${name} is left by ${describeOwner(lock.owner)}, whose process is gone; \`rotator resume\` will take it over`,
      );
  }
  const unfinished = await unfinishedRunFor(context);
  if (unfinished !== undefined && (await state.liveRunIds()).has(unfinished.runId)) {
    problems.push(`run ${unfinished.runId} is running now; wait for it to finish`);
  } else if (unfinished !== undefined) {
    problems.push(`run ${unfinished.runId} is not finished; run \`rotator resume\` first`);
  } else {
    // The same check as rotate's: another config's unfinished run sharing a store.
    const overlap = await overlapError(context, "rotate");
    if (overlap !== undefined) problems.push(`${overlap.message}; ${overlap.hint}`);
  }

  problems.push(...(await claimProblems(context)));

  const preflight = await runPreflight(context, options);
  problems.push(...preflight.problems);
  // The account's token slot, as rotate meets it (its marks in Twilio are read with the admin credential).
  problems.push(...(await tokenSlotProblems(context, { readMarks: preflight.adminOk })));

  const oldId = preflight.current === undefined ? undefined : credentialId(preflight.current);
  if (oldId !== undefined && !options.allowSharedRevoke) {
    try {
      const holders = await otherHolders(context, oldId);
      if (holders.length > 0) {
        const error = sharedCredentialError(holders, oldId);
        problems.push(`${error.message}; ${error.hint}`);
      }
    } catch (error) {
      // Rotate would stop on it too (its check reads the same).
      problems.push(`could not check which other configs hold ${maskSid(oldId)}: ${errorMessage(error)}`);
    }
  }
  // An Auth Token's promote ends it for every config whose admin it is, too: say which, before.
  const adminDependents = await listAdminDependents(context);
  const age = preflight.currentAge;
  const ageDays = age === undefined || age.skewed ? null : age.days;
  const { actions, changes, onFailure } = planRotation(context, preflight, options);
  const generalNotes = [...preflight.notes, ...describeAdminDependents(adminDependents)];
  return {
    command: "plan",
    status: "planned",
    exitCode: problems.length > 0 ? ExitCode.badInput : ExitCode.completed,
    runId: null,
    oldKey: oldId === undefined ? null : maskSid(oldId),
    newKey: null,
    stores: stores.map((s) => ({ name: s.name, type: s.type, outcome: "unchanged" as const })),
    warnings: [],
    steps: actions.map((action) => action.description),
    actions,
    summary: planSummary(actions, context.issuer.labels.noun),
    problems,
    // What each store found (Key Vault's and Secrets Manager's unverifiable write permission among it) is part of
    // the truth plan owes; it is said per store.
    ...(adminDependents.length === 0 ? {} : { adminDependents }),
    notes: [
      ...generalNotes,
      ...preflight.stores.flatMap((f) => f.notes.map((note) => `store "${f.name}": ${note}`)),
      ...fencingNotes(context),
    ],
    [FOR_PEOPLE]: {
      changes,
      onFailure,
      storeNotes: notesByStore(preflight.stores),
      notes: [...generalNotes, ...fencingNotes(context, { once: true })],
    },
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
