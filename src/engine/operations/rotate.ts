/**
 * `rotator rotate`: the fixed order from the top. Lock, preflight, issue, verify, write every store,
 * consumers, revoke, finish. Any failure before the revoke rolls back to exactly what the stores held.
 */
import { credentialId } from "../../credentials/stored.js";
import { DECLINED_NEXT, ExitCode, errorMessage, PreflightError, RotatorError } from "../../errors.js";
import { maskSid } from "../../util/mask.js";
import { describeAdminDependents, listAdminDependents } from "../admin-dependents.js";
import type { EngineContext } from "../context.js";
import { youngCredentialWarning } from "../credential-origin.js";
import { failpoint, pausepoint } from "../failpoint.js";
import { interruptionRequested } from "../interrupt.js";
import { startNewRun } from "../new-run.js";
import { otherHolders, sharedCredentialError } from "../overlap.js";
import { runPreflight } from "../preflight.js";
import { type CommandResult, emptyResult, resultFromState } from "../result.js";
import { openRun, runSteps } from "../runner.js";
import { stateOf } from "../state/index.js";
import { notesByStore, type PlanAction, type PlanChange, planSummary } from "../step-plans.js";
import { planRotation, stepsOf } from "../step-table.js";
import { newRunState } from "../steps.js";
import { adoptAdminFromEnv } from "../supplied-admin.js";

export interface RotateOptions {
  /** Only rotate when the current key is older than credential.maxAgeDays. */
  ifDue?: boolean;
  /** The current key may already be dead (security reset): rotate anyway. */
  emergency?: boolean;
  /** Why (an emergency): journaled in run-started. */
  reason?: string;
  /**
   * With `emergency`: revoke the old credential as soon as every store holds the new one, without waiting
   * for consumers (the explicit trade of availability for security after a leak).
   */
  revokeImmediately?: boolean;
  /**
   * Revoke the old credential even though stores of other configs are known (from this state directory's
   * journals) to hold it: the operator has checked those stores, or means to break them.
   */
  allowSharedRevoke?: boolean;
  /**
   * With `emergency`, an Auth Token config: the variable holding the account's current token, checked with
   * Twilio, to act as admin should the configured one be refused (a `fromStore` admin after a reset).
   */
  adminFromEnv?: string;
  version?: string;
  /**
   * Asked once preflight passed, before anything changes, with the steps rotate is about to take (the CLI
   * asks the operator on a terminal). False ends the run cancelled, having changed nothing.
   */
  confirm?: (request: ConfirmationRequest) => Promise<boolean>;
}

export interface ConfirmationRequest {
  actions: PlanAction[];
  /** The same plan as changes, for people (grouped by target when printed). */
  changes: PlanChange[];
  /** What happens on any failure before the revoke. */
  onFailure: string;
  /** What each store's preflight noted, by store name (said once, under the store). */
  storeNotes: Record<string, string[]>;
  /** Notes about the run as a whole (none so far: rotate says its preflight's as it goes). */
  notes: string[];
  summary: string;
  /** Reasons to think twice, such as a credential made less than a day ago. */
  warnings: string[];
}

export async function rotate(context: EngineContext, options: RotateOptions = {}): Promise<CommandResult> {
  if (options.adminFromEnv !== undefined) await adoptAdminFromEnv(context, options.adminFromEnv);
  return startNewRun(context, "rotate", (runId) => rotateClaimed(context, runId, options));
}

async function rotateClaimed(context: EngineContext, runId: string, options: RotateOptions): Promise<CommandResult> {
  const { reporter, loaded } = context;
  failpoint("after-lock:rotate", context.env);
  await pausepoint("after-lock:rotate", context.env);
  reporter.step("preflight: admin credential, stores, drift");
  const preflight = await runPreflight(context, options);
  for (const note of preflight.notes) reporter.info(note);
  if (preflight.problems.length > 0) throw new PreflightError(preflight.problems);

  if (preflight.current !== undefined && !options.allowSharedRevoke) {
    const holders = await otherHolders(context, credentialId(preflight.current)).catch((error: unknown) => {
      throw new RotatorError(
        `could not check which other configs hold the current credential: ${errorMessage(error)}`,
        {
          exitCode: ExitCode.badInput,
          hint: "nothing was changed; run again once the cause is fixed",
          cause: error,
        },
      );
    });
    if (holders.length > 0) throw sharedCredentialError(holders, credentialId(preflight.current));
  }

  for (const line of describeAdminDependents(await listAdminDependents(context))) reporter.info(line);
  const age = preflight.currentAge;
  const currentName = maskSid(preflight.current === undefined ? undefined : credentialId(preflight.current));
  if (options.ifDue && !options.emergency && preflight.currentInfo !== undefined) {
    if (age?.skewed) {
      throw new RotatorError(
        `${currentName} was created ${age.aheadBy} in the future by this machine's clock, so its age cannot be judged`,
        {
          exitCode: ExitCode.badInput,
          hint: "this machine's clock is behind Twilio's: fix it (NTP), then run again; rotate without --if-due to rotate regardless",
        },
      );
    }
    if (age === undefined) {
      // Twilio does not say when a token became primary and no rotation of it is journaled: rotating now
      // starts the clock, which every later --if-due run can then read.
      reporter.info(`${currentName}: age unknown (not journaled); rotating now starts its clock`);
    } else if (age.days < loaded.config.credential.maxAgeDays) {
      reporter.step(
        `not due: ${currentName} is ${age.days} days old (rotates at ${loaded.config.credential.maxAgeDays})`,
      );
      return notDue(preflight.current === undefined ? "" : credentialId(preflight.current));
    }
  }

  const warnings: string[] = [];
  if (age !== undefined && !age.skewed && !options.emergency && preflight.current !== undefined) {
    const young = await youngCredentialWarning(currentName, age.birth.at, credentialId(preflight.current), () =>
      stateOf(context).listRuns(),
    );
    if (young !== undefined) warnings.push(young);
  }
  for (const warning of warnings) context.reporter.warn(warning);
  if (options.confirm !== undefined) {
    const { actions, changes, onFailure } = planRotation(context, preflight, options);
    const confirmed = await options.confirm({
      actions,
      changes,
      onFailure,
      storeNotes: notesByStore(preflight.stores),
      notes: [],
      summary: planSummary(actions, context.issuer.labels.noun),
      warnings,
    });
    if (!confirmed) {
      return emptyResult("rotate", "cancelled", ExitCode.cancelled, { next: DECLINED_NEXT, warnings });
    }
  }

  if (interruptionRequested(context.interruption)) {
    return emptyResult("rotate", "interrupted", ExitCode.interrupted, {
      error: `interrupted by ${context.interruption?.signal} during preflight: nothing was changed`,
      next: "`rotator rotate` starts again",
      warnings,
    });
  }

  const journal = await openRun(context, runId, {
    command: options.emergency ? "rotate --emergency" : "rotate",
    mode: "rotate",
    emergency: options.emergency ?? false,
    revokeImmediately: options.revokeImmediately ?? false,
    allowSharedRevoke: options.allowSharedRevoke ?? false,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.adminFromEnv === undefined ? {} : { adminFallbackEnv: options.adminFromEnv }),
    ...(options.version === undefined ? {} : { version: options.version }),
  });
  const state = newRunState(
    context,
    journal,
    preflight.current,
    preflight.stores.map((f) => f.snapshot),
    {
      kind: "rotate",
      emergency: options.emergency ?? false,
      revokeImmediately: options.revokeImmediately ?? false,
      allowSharedRevoke: options.allowSharedRevoke ?? false,
    },
  );
  state.warnings.push(...warnings);
  // An emergency rotation of a key Twilio no longer knows has nothing to revoke.
  if (
    options.emergency &&
    preflight.current !== undefined &&
    preflight.currentInfo === undefined &&
    !context.issuer.revokeEvenWhenOldIsDead
  ) {
    state.oldId = undefined;
  }
  await journal.append({
    event: "preflight-passed",
    oldId: preflight.current === undefined ? "" : credentialId(preflight.current),
    storeVersions: Object.fromEntries(preflight.stores.map((f) => [f.name, f.snapshot?.version ?? null])),
  });
  reporter.info(`run ${runId}, journal ${journal.path}`);
  return resultFromState("rotate", state, await runSteps(state, stepsOf(state.mode, context)));
}

function notDue(currentId: string): CommandResult {
  return emptyResult("rotate", "not-due", ExitCode.completed, { oldKey: maskSid(currentId) });
}
