/**
 * What the engine does about a failed store call, decided here from the failure's kind (providers/errors.ts), and
 * nowhere else:
 *
 * - `retryable` (throttled, 5xx, no answer): tried again inside the call by the one retry policy
 *   (providers/error-kit/retry.ts), never past the call's deadline (engine/fence.ts, engine/deadlines.ts) nor,
 *   for a change, past the lease. A failure that outlasts it is one the store may answer again later: before
 *   `resume` or `rollback` changes anything it stops them (exit 7, the run as it was: `isPassingFailure`); in a run,
 *   the run rolls back, as for `fatal`.
 * - `fatal` (denied, not found, a bad value): the run rolls back every store it prepared.
 * - `needs-operator` from the store being prepared or written (or one `resume` finds changed before it writes the
 *   rest): it refused because someone else changed it after preflight, and overwrote nothing (every provider's
 *   check-and-set, held by the contract suite). Its rollback cannot work (the provider refuses to touch a value
 *   that is not the run's) and has nothing to undo: the store is handed to the operator (journaled
 *   `store-handed-over`, so a resume of an interrupted rollback skips it too), every other store is rolled back,
 *   the new credential is deleted, and the run ends `failed`, exit 7, naming the store. The old credential was
 *   never revoked: it is valid, in every store but that one.
 *   A `needs-operator` from a rollback itself stays what it was: the rollback of the others goes on, and the
 *   run waits for `resume` (engine/steps.ts rollbackStep).
 */

import { isStoreError, type StoreError } from "../../providers/errors.js";
import { StoreFenceError } from "../../providers/store-call.js";
import { credentialId } from "../credentials/stored.js";
import { ExitCode } from "../errors.js";
import { maskSid } from "../util/mask.js";
import type { RunOutcome, RunState } from "./steps.js";

/** A failure the store may answer differently later (no answer within the deadline, throttled, 5xx). */
export function isPassingFailure(error: unknown): error is StoreError {
  return isStoreError(error) && error.kind === "retryable";
}

/**
 * Before the rollback of a failed write step: if the store being written refused because someone else changed it
 * (`needs-operator`), and it now holds nothing of this run (read again: not the new credential), hand it over.
 * Anything else (another kind, an unreadable store, one holding the new credential, one the run had written)
 * rolls back as before.
 */
export async function handOverRefusingStore(state: RunState, error: unknown): Promise<void> {
  if (!isStoreError(error) || error.kind !== "needs-operator" || error instanceof StoreFenceError) return;
  const progress = state.stores.find((candidate) => candidate.provider.name === error.store);
  // Refused in prepare or in write; one the run had written is for its rollback to judge.
  if (progress === undefined || progress.written) return;
  try {
    const held = (await progress.provider.read()).credential;
    if (held !== undefined && credentialId(held) === state.newId) return;
  } catch {
    return;
  }
  progress.handedOver = error.message;
  progress.outcome = "left-to-operator";
  await state.journal.append({ event: "store-handed-over", store: progress.provider.name, reason: error.message });
  state.context.reporter.warn(`${progress.provider.name}: changed by someone else; rotator leaves it as it is`);
}

/** The end of a rollback that had nothing to do with the stores handed over: as it was, unless there are some. */
export function rollbackOutcome(state: RunState, rolledBack: RunOutcome): RunOutcome {
  const handedOver = state.stores.filter((progress) => progress.handedOver !== undefined);
  if (handedOver.length === 0) return rolledBack;
  const { noun } = state.context.issuer.labels;
  const names = handedOver.map((progress) => progress.provider.name).join(", ");
  // A sync's credential is the operator's, and a lost one not the run's: never deleted (rollbackStep).
  const deleted = state.mode.kind !== "sync" && !state.newLost;
  return {
    status: "failed",
    exitCode: ExitCode.needsOperator,
    error:
      `${rolledBack.error?.replace(/\.$/, "")}. Every other store holds the old ${noun} ${maskSid(state.oldId)} again (untouched, still ` +
      `valid)${deleted ? ` and the new ${noun} was deleted` : ""}; ${names} was left as it is: someone else changed it during the run, and ` +
      "rotator overwrote nothing there. This run is over: `rotator resume` has nothing left to do for it",
    hint: `check which ${noun} ${names} should hold; once every store agrees, \`rotator rotate\` starts again`,
  };
}
