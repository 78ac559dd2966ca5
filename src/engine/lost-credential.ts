/**
 * A run's new credential can die while the run is not looking: an account's secondary Auth Token replaced by
 * another create (another config, host or tool; the Console), or promoted or deleted; a new key deleted. The
 * run must notice before it waits for consumers or revokes: consumers cannot converge on a dead credential,
 * and a promote would promote someone else's secondary. What is left to do depends on the old credential:
 *
 * - it still works: every store goes back to it (the consumers with them), and the dead one is not deleted
 *   (an account's "secondary" is now someone else's);
 * - it is dead too (the other run promoted): nothing rotator holds works; the run ends and names the `sync`
 *   that puts the account's current credential into every store.
 */
import { credentialTypeOf } from "../credentials/registry.js";
import { ExitCode, errorMessage } from "../errors.js";
import { maskSid } from "../util/mask.js";
import { type RunOutcome, type RunState, rollbackStep } from "./steps.js";

/** Whether the run's new credential is known and Twilio refuses it now (false when it cannot tell). */
export async function newCredentialIsDead(state: RunState): Promise<boolean> {
  if (state.issued === undefined) return false;
  try {
    return !(await state.context.issuer.authenticatesNow(state.issued));
  } catch (error) {
    // Twilio unreachable says nothing about the credential; the step that needs Twilio next will say why it stops.
    state.context.reporter.info(`could not check that the new credential still authenticates: ${errorMessage(error)}`);
    return false;
  }
}

/** Whether Twilio still takes the old credential (as the issuer knows it: the primary token, an existing key). */
async function oldStillWorks(state: RunState): Promise<boolean> {
  if (state.oldId === undefined) return false;
  try {
    return (await state.context.issuer.describe(state.oldId, state.old)) !== undefined;
  } catch {
    // The admin credential itself refused (it was the old token, promoted away): the old one is dead.
    return false;
  }
}

/** End a run whose new credential died: back to the old one if it works, else say which `sync` to run. */
export async function settleLostCredential(state: RunState): Promise<RunOutcome> {
  const { issuer, reporter } = state.context;
  const { noun } = issuer.labels;
  const oldWorks = await oldStillWorks(state);
  state.newLost = true;
  await state.journal.append({ event: "credential-lost", newId: state.newId ?? "", oldWorks });
  const { lost } = credentialTypeOf(issuer.kind);
  const what = `the run's new ${noun} ${maskSid(state.newId)} no longer authenticates: ${lost.cause}`;
  reporter.warn(what);
  if (oldWorks) {
    return rollbackStep(
      state,
      `${what}; every store goes back to the old ${noun} ${maskSid(state.oldId)}, which still works`,
    );
  }
  const outcome: RunOutcome = {
    status: "failed",
    exitCode: ExitCode.needsOperator,
    error: `${what}, and the old ${noun} ${maskSid(state.oldId)} no longer works either: every store holds a ${noun} Twilio refuses, and this run can do nothing more`,
    hint: `put the ${noun} the account uses now into every store: \`rotator sync --from-env ${lost.syncVariable}\`${lost.syncHintTail}`,
  };
  return outcome;
}
