/**
 * The one definition of a run's order: for each operation the steps it takes, in order, each with what it does
 * (step-runs.ts) and what it is in a plan (step-plans.ts). One runner (runner.ts) carries a run through them:
 *
 * - rotate: [claim-slot] issue, verify, write-stores, await-synced-stores, canary, await-consumers,
 *   check-stores, new-still-alive, [slot-still-claimed], no-other-holders, revoke, [signing-lag, retire-previous,
 *   await-synced-retired, await-retired], finish;
 * - sync: verify, write-stores, await-synced-stores, canary, await-consumers, check-stores, finish (nothing
 *   issued, nothing revoked);
 * - resume: the run's own table (rotate's or sync's, as journaled), entered at the step its journal stopped
 *   before (reenter.ts), or the rollback when one was started;
 * - rollback: the rollback step alone, which every other step also ends in when it fails before the revoke.
 *
 * Steps in [brackets] are the credential type's own: an issuer that keeps the account's one secondary-token
 * slot (the Auth Token's `marks`) claims it first and checks it is still the run's before its revoke (the
 * promote); a type that keeps its previous credential (the Auth Token's, for webhooks: engine/retire.ts) writes it
 * beside the new one and retires it after the revoke. `plan` renders the same table, so it cannot list steps rotate
 * would not take.
 */
import { credentialTypeOf } from "../credentials/registry.js";
import type { EngineContext } from "./context.js";
import type { JournalRecord } from "./journal.js";
import { type JournalEventName, type JournaledRun, journaled, type StepJournals } from "./runner.js";
import type { PlanAction, PlanChange, PlanMode, PlanView, StepPlan } from "./step-plans.js";
import * as plan from "./step-plans.js";
import type { StepRun } from "./step-runs.js";
import * as run from "./step-runs.js";
import { type RunMode, rollbackStep } from "./steps.js";

/** What a command asks of the engine: a new run (rotate, sync), or an unfinished one carried on or undone. */
export type Operation = "rotate" | "sync" | "resume" | "rollback";

export type StepId =
  | "claim-slot"
  | "issue"
  | "verify"
  | "write-stores"
  | "await-synced-stores"
  | "canary"
  | "await-consumers"
  | "check-stores"
  | "new-still-alive"
  | "slot-still-claimed"
  | "no-other-holders"
  | "revoke"
  | "signing-lag"
  | "retire-previous"
  | "await-synced-retired"
  | "await-retired"
  | "finish"
  | "rollback"
  // resume's own, before the step it enters at: the new secret recovered from the stores.
  | "recover-committed"
  | "recover-written";

export interface Step {
  id: StepId;
  run: StepRun;
  /** What `plan` lists for this step (nothing for a check that changes nothing). */
  plan?: (view: PlanView) => StepPlan;
  /**
   * `resume` enters a run at this step when its journal holds one of these records (the furthest such step
   * in the table): the checkpoints a run can be carried on from.
   */
  resumesAfter?: ReadonlyArray<JournalRecord["event"]>;
  /**
   * The records that mark this step's start and end, which the runner appends (runner.ts, `journaled`), never the
   * step. The rollback's `rollback-started` is not declared: the rollback also runs from inside other steps that
   * fail (issue, verify, write-stores, canary, a lost credential), which journal it where they fail.
   */
  journals?: StepJournals<JournalEventName, JournalEventName>;
}

const step = (id: StepId, stepRun: StepRun, more: Omit<Step, "id" | "run"> = {}): Step => ({
  id,
  run: stepRun,
  ...more,
});

/** A step whose start and end records the runner journals, as `journals` names them. */
const journaledStep = <Start extends JournalEventName, End extends JournalEventName, Done>(
  id: StepId,
  journals: StepJournals<Start, End>,
  stepRun: JournaledRun<Start, End, Done>,
  more: Omit<Step, "id" | "run" | "journals"> = {},
): Step => ({ id, run: journaled(journals, stepRun), journals, ...more });

const CLAIM_SLOT = step("claim-slot", run.claimSlot);
const ISSUE = journaledStep("issue", { start: "issue-started", end: "credential-issued" }, run.issue, {
  plan: plan.planIssue,
});
const VERIFY = step("verify", run.verify, {
  plan: plan.planVerify,
  resumesAfter: ["credential-issued", "credential-supplied"],
});
// Stores others fill are part of the stores' plan: each store's change, in config order.
const WRITE_STORES = step("write-stores", run.writeStores, { plan: plan.planStores });
const AWAIT_SYNCED_STORES = step("await-synced-stores", run.awaitSyncedStores, { resumesAfter: ["stores-committed"] });
const CANARY = step("canary", run.canary, { plan: plan.planCanaries });
const AWAIT_CONSUMERS = step("await-consumers", run.awaitConsumers, { plan: plan.planConsumers });
const CHECK_STORES = step("check-stores", run.checkStores);
const NEW_STILL_ALIVE = step("new-still-alive", run.newStillAlive);
const SLOT_STILL_CLAIMED = step("slot-still-claimed", run.slotStillClaimed);
const NO_OTHER_HOLDERS = step("no-other-holders", run.noOtherHolders);
const REVOKE = journaledStep("revoke", { start: "revoke-started", end: "old-credential-revoked" }, run.revoke, {
  plan: plan.planRevoke,
});
// A type that keeps its previous credential (an Auth Token's, for webhooks): retired from every store after the revoke.
const SIGNING_LAG = step("signing-lag", run.signingLag, { resumesAfter: ["old-credential-revoked"] });
const RETIRE_PREVIOUS = journaledStep(
  "retire-previous",
  { start: "retire-started", end: "previous-retired" },
  run.retirePrevious,
  { plan: plan.planRetire, resumesAfter: ["retire-started"] },
);
// Entered again by resume after the retire write: a store others fill may still hold the previous credential.
const AWAIT_SYNCED_RETIRED = step("await-synced-retired", run.awaitSyncedRetired, {
  resumesAfter: ["previous-retired"],
});
const AWAIT_RETIRED = step("await-retired", run.awaitRetired);
const FINISH = step("finish", run.finish, { plan: plan.planFinish });

/** Every step of every table, once (the rollback's is made per reason: rollbackSteps). */
export const ALL_STEPS: readonly Step[] = [
  CLAIM_SLOT,
  ISSUE,
  VERIFY,
  WRITE_STORES,
  AWAIT_SYNCED_STORES,
  CANARY,
  AWAIT_CONSUMERS,
  CHECK_STORES,
  NEW_STILL_ALIVE,
  SLOT_STILL_CLAIMED,
  NO_OTHER_HOLDERS,
  REVOKE,
  SIGNING_LAG,
  RETIRE_PREVIOUS,
  AWAIT_SYNCED_RETIRED,
  AWAIT_RETIRED,
  FINISH,
];

/** The steps of a run of this kind (rotate or sync) for this context's credential type, in order. */
export function stepsOf(mode: Pick<RunMode, "kind">, context: Pick<EngineContext, "issuer">): Step[] {
  // The credential type's own steps: the account's secondary-token slot, claimed and checked around the promote,
  // and the previous credential retired from the stores after it.
  const keepsSlot = context.issuer.marks !== undefined;
  const keepsPrevious = credentialTypeOf(context.issuer.kind).keepsPrevious !== undefined;
  const writes = [VERIFY, WRITE_STORES, AWAIT_SYNCED_STORES, CANARY, AWAIT_CONSUMERS, CHECK_STORES];
  if (mode.kind === "sync") return [...writes, FINISH];
  return [
    ...(keepsSlot ? [CLAIM_SLOT] : []),
    ISSUE,
    ...writes,
    NEW_STILL_ALIVE,
    ...(keepsSlot ? [SLOT_STILL_CLAIMED] : []),
    NO_OTHER_HOLDERS,
    REVOKE,
    ...(keepsPrevious ? [SIGNING_LAG, RETIRE_PREVIOUS, AWAIT_SYNCED_RETIRED, AWAIT_RETIRED] : []),
    FINISH,
  ];
}

/** The rollback, as one step: every prepared store back to its restore point, the new credential deleted. */
export function rollbackSteps(reason: string): Step[] {
  return [step("rollback", (state) => rollbackStep(state, reason), { plan: plan.planRollback })];
}

/**
 * Where `resume` enters a run of `mode` whose journal holds `records`: the furthest step with a checkpoint the
 * journal holds, or undefined when it holds none (the new credential was never recorded).
 */
export function resumeEntry(
  mode: Pick<RunMode, "kind">,
  context: Pick<EngineContext, "issuer">,
  records: JournalRecord[],
) {
  const steps = stepsOf(mode, context);
  const journaled = new Set(records.map((record) => record.event));
  const at = steps.findLastIndex((candidate) => candidate.resumesAfter?.some((event) => journaled.has(event)));
  return at < 0 ? undefined : { step: steps[at] as Step, rest: steps.slice(at) };
}

/** Rotate's plan, from its table: its preflight, each step's changes, and the rollback it takes on any failure. */
export interface RotatePlan {
  /** Every step, as `--json` shows it. */
  actions: PlanAction[];
  /** The changes, for people (grouped by target when printed). */
  changes: PlanChange[];
  /** What happens on any failure before the revoke (the rollback step). */
  onFailure: string;
}

export function planRotation(
  context: EngineContext,
  preflight: PlanView["preflight"],
  mode: PlanMode = {},
): RotatePlan {
  const view: PlanView = { context, preflight, mode };
  // The reason a rollback would give is only known when it happens; its plan does not say one.
  const rollback = rollbackSteps("on any failure before the revoke").map((entry) => entry.plan?.(view));
  const steps = [
    plan.planPreflight(view),
    ...stepsOf({ kind: "rotate" }, context).map((entry) => entry.plan?.(view)),
    ...rollback,
  ];
  const planned = steps.filter((entry): entry is StepPlan => entry !== undefined);
  return {
    actions: planned.flatMap((entry) => entry.actions),
    changes: planned.flatMap((entry) => entry.changes),
    onFailure: rollback
      .flatMap((entry) => entry?.actions ?? [])
      .map((action) => action.description)
      .join("; "),
  };
}
