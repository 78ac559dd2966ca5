/**
 * `rotator sync`: put a credential the operator supplies into every store, all-or-nothing, read back, and
 * wait until every consumer uses it; nothing is issued and nothing revoked. For when the stores and Twilio
 * disagree: a token promoted behind rotator's back (the Console, a security reset by Twilio), stores that
 * drifted apart. The supplied credential is checked with Twilio before anything is written, and a rollback
 * never deletes it (it is the operator's, and in use).
 */
import type { StoredCredential } from "../../../providers/contract.js";
import { credentialTypeOf } from "../../credentials/registry.js";
import { credentialId } from "../../credentials/stored.js";
import { DECLINED_NEXT, ExitCode, PreflightError, RotatorError } from "../../errors.js";
import { sidProblems } from "../../twilio/diagnose.js";
import { maskSid } from "../../util/mask.js";
import type { EngineContext } from "../context.js";
import { startNewRun } from "../new-run.js";
import { type PreflightResult, runPreflight } from "../preflight.js";
import { type CommandResult, emptyResult, resultFromState } from "../result.js";
import { openRun, runSteps } from "../runner.js";
import { stepsOf } from "../step-table.js";
import { journalAdminSwitches, newRunState } from "../steps.js";
import { secretFromEnv } from "../supplied-admin.js";
import { refuseOtherClaims } from "../token-slot.js";
import type { ConfirmationSteps } from "../unfinished-run.js";

export interface SyncOptions {
  /** The environment variable holding the token (auth-token) or the key secret (api-key). */
  fromEnv?: string;
  /** api-key with fromEnv: the SID of the key whose secret the variable holds. */
  keySid?: string;
  /** A store of this config whose credential every other store should hold. */
  fromStore?: string;
  version?: string;
  /**
   * Asked once the supplied credential authenticates, before any store is written, with what sync is about
   * to do (the CLI asks the operator on a terminal). False ends it cancelled, having changed nothing.
   */
  confirm?: (request: ConfirmationSteps) => Promise<boolean>;
}

export async function sync(context: EngineContext, options: SyncOptions): Promise<CommandResult> {
  if ((options.fromEnv === undefined) === (options.fromStore === undefined)) {
    throw new RotatorError("sync needs exactly one source: --from-env NAME or --from-store STORE", {
      exitCode: ExitCode.badInput,
      hint: "`rotator sync --from-env TWILIO_AUTH_TOKEN` takes the token in that variable to every store",
    });
  }
  if (options.keySid !== undefined && !credentialTypeOf(context.issuer.kind).supplied.takesKeySid) {
    throw new RotatorError(
      `--key-sid names an API key, but ${context.loaded.file} rotates the account's Auth Token (credential.type: ${context.loaded.config.credential.type}); nothing was changed`,
      {
        exitCode: ExitCode.badInput,
        hint: "drop --key-sid: with an auth-token config --from-env NAME holds the token itself",
      },
    );
  }
  const keySidProblems = options.keySid === undefined ? [] : sidProblems(options.keySid, "key");
  if (keySidProblems.length > 0) {
    throw new RotatorError(`--key-sid ${keySidProblems.join("; ")}; nothing was changed`, {
      exitCode: ExitCode.badInput,
      hint: "give the SID of the key whose secret the variable holds (Console > Account > API keys & tokens)",
    });
  }
  await offerSuppliedAsAdmin(context, options);
  return startNewRun(context, "sync", (runId) => syncClaimed(context, runId, options));
}

/**
 * An Auth Token config's admin may be the very token the stores hold, dead now (promoted in the Console, reset
 * by Twilio; with `fromStore` it is read from a store): the supplied token, once Twilio accepts it, is offered
 * to the issuer as the admin to go on with when the configured one is refused. Read again, under the locks,
 * for the sync itself.
 */
async function offerSuppliedAsAdmin(context: EngineContext, options: SyncOptions): Promise<void> {
  const { issuer } = context;
  if (!credentialTypeOf(issuer.kind).accountToken) return;
  let supplied: StoredCredential | undefined;
  if (options.fromEnv !== undefined) {
    supplied = suppliedFromEnv(context, options.fromEnv, options.keySid);
  } else {
    const store = context.stores.find((candidate) => candidate.name === options.fromStore);
    supplied =
      store === undefined
        ? undefined
        : await store.read().then(
            (snapshot) => snapshot.credential,
            () => undefined,
          );
  }
  if (supplied === undefined || !(await issuer.authenticatesNow(supplied).catch(() => false))) return;
  const source = options.fromEnv !== undefined ? `env ${options.fromEnv}` : `store ${options.fromStore}`;
  issuer.adoptNew(supplied, `the token from ${source} (supplied to sync, checked with Twilio)`);
}

async function syncClaimed(context: EngineContext, runId: string, options: SyncOptions): Promise<CommandResult> {
  const { reporter, issuer } = context;
  const { noun } = issuer.labels;
  reporter.step("preflight: admin credential, stores");
  const preflight = await runPreflight(context, { sync: true });
  for (const note of preflight.notes) reporter.info(note);
  if (preflight.problems.length > 0) throw new PreflightError(preflight.problems);
  // A run claiming this account's token slot elsewhere is about to replace the token sync would write.
  await refuseOtherClaims(context);

  const supplied = suppliedCredential(context, options, preflight);
  const source = options.fromEnv !== undefined ? `env ${options.fromEnv}` : `store ${options.fromStore}`;
  reporter.step(`checking that the ${noun} from ${source}, ${maskSid(credentialId(supplied))}, authenticates`);
  try {
    await issuer.verifyAuthenticates(supplied);
  } catch (error) {
    throw new RotatorError(
      `the ${noun} from ${source} (${maskSid(credentialId(supplied))}) does not authenticate with Twilio, so no store was changed: ${error instanceof Error ? error.message : String(error)}`,
      {
        exitCode: ExitCode.badInput,
        hint: `supply the ${noun} Twilio uses now (Console > Account > API keys & tokens)`,
      },
    );
  }

  const asked = {
    steps: [
      `write the ${noun} from ${source}, ${maskSid(credentialId(supplied))}, to every store (${context.stores.map((store) => store.name).join(", ")}), all-or-nothing`,
      "wait until every consumer uses it; nothing is issued or revoked",
    ],
  };
  if (options.confirm !== undefined && !(await options.confirm(asked))) {
    return emptyResult("sync", "cancelled", ExitCode.cancelled, { next: DECLINED_NEXT });
  }
  const journal = await openRun(context, runId, {
    command: "sync",
    mode: "sync",
    ...(options.version === undefined ? {} : { version: options.version }),
  });
  const state = newRunState(
    context,
    journal,
    preflight.current,
    preflight.stores.map((f) => f.snapshot),
    { kind: "sync", emergency: false, revokeImmediately: false },
  );
  await journal.append({
    event: "preflight-passed",
    oldId: preflight.current === undefined ? "" : credentialId(preflight.current),
    storeVersions: Object.fromEntries(preflight.stores.map((f) => [f.name, f.snapshot?.version ?? null])),
  });
  state.newId = credentialId(supplied);
  state.issued = supplied;
  // The configured admin was refused and the supplied token stood in (offerSuppliedAsAdmin): say so, journaled.
  await journalAdminSwitches(state);
  // Accepted, but perhaps not for long: the account's secondary token dies when anyone creates another.
  const standing = await issuer.describe(state.newId, supplied).catch(() => undefined);
  if (standing?.notRotatable !== undefined) {
    state.warnings.push(standing.notRotatable);
    reporter.warn(standing.notRotatable);
  }
  issuer.adoptNew(supplied);
  await journal.append({ event: "credential-supplied", newId: state.newId, source });
  reporter.info(`run ${runId}, journal ${journal.path}`);
  return resultFromState("sync", state, await runSteps(state, stepsOf(state.mode, context)));
}

/** The credential the operator names: read from the environment, or taken from one store. Never printed. */
function suppliedCredential(
  context: EngineContext,
  options: SyncOptions,
  preflight: PreflightResult,
): StoredCredential {
  if (options.fromStore !== undefined) {
    const finding = preflight.stores.find((store) => store.name === options.fromStore);
    if (finding === undefined) {
      throw new RotatorError(`--from-store: no store of this config is named "${options.fromStore}"`, {
        exitCode: ExitCode.badInput,
        hint: `name one of ${context.stores.map((s) => `"${s.name}"`).join(", ")}`,
      });
    }
    const held = finding.snapshot?.credential;
    if (held === undefined) {
      throw new RotatorError(
        `--from-store: store "${options.fromStore}" holds no ${context.issuer.labels.long} to copy`,
        {
          exitCode: ExitCode.badInput,
        },
      );
    }
    return held;
  }
  return suppliedFromEnv(context, options.fromEnv as string, options.keySid);
}

/** `--from-env NAME` (with `--key-sid` for an API key): the credential the variable holds. Never printed. */
function suppliedFromEnv(context: EngineContext, name: string, keySid: string | undefined): StoredCredential {
  const accountSid = context.loaded.config.twilio.accountSid;
  const { supplied } = credentialTypeOf(context.issuer.kind);
  const value = secretFromEnv(
    context.env,
    name,
    "--from-env",
    `the ${context.issuer.labels.long}'s ${supplied.valueWord}`,
  );
  const credential = supplied.build(accountSid, value, keySid);
  if (typeof credential === "string") throw new RotatorError(credential, { exitCode: ExitCode.badInput });
  return credential;
}
