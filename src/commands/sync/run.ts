/**
 * `rotator sync`: put a credential the operator supplies into every store, all-or-nothing, read back, and
 * wait until every consumer uses it; nothing is issued and nothing revoked. For when the stores and Twilio
 * disagree: a token promoted behind rotator's back (the Console, a security reset by Twilio), stores that
 * drifted apart. The supplied credential is checked with Twilio before anything is written, and a rollback
 * never deletes it (it is the operator's, and in use).
 */
import type { StoredCredential } from "../../../providers/contract.js";
import { credentialId } from "../../../providers/contract.js";
import type { EngineContext } from "../../engine/context.js";
import { runStartedEvent } from "../../engine/facts.js";
import { startNewRun } from "../../engine/new-run.js";
import { type PreflightResult, runPreflight } from "../../engine/preflight.js";
import type { CommandResult } from "../../engine/result.js";
import { runFromVerify } from "../../engine/run.js";
import { stateOf } from "../../engine/state/index.js";
import { newRunState } from "../../engine/steps.js";
import { refuseOtherClaims } from "../../engine/token-slot.js";
import { ExitCode, PreflightError, RotatorError } from "../../errors.js";
import { maskSid, registerSecret } from "../../util/mask.js";

export interface SyncOptions {
  /** The environment variable holding the token (auth-token) or the key secret (api-key). */
  fromEnv?: string;
  /** api-key with fromEnv: the SID of the key whose secret the variable holds. */
  keySid?: string;
  /** A store of this config whose credential every other store should hold. */
  fromStore?: string;
  version?: string;
}

export async function sync(context: EngineContext, options: SyncOptions): Promise<CommandResult> {
  if ((options.fromEnv === undefined) === (options.fromStore === undefined)) {
    throw new RotatorError("sync needs exactly one source: --from-env NAME or --from-store STORE", {
      exitCode: ExitCode.badInput,
      hint: "`rotator sync --from-env TWILIO_AUTH_TOKEN` takes the token in that variable to every store",
    });
  }
  return startNewRun(context, "sync", (runId) => syncClaimed(context, runId, options));
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

  const journal = await stateOf(context).createJournal(runId, issuer.labels.word);
  await journal.append(
    runStartedEvent(context, {
      command: "sync",
      mode: "sync",
      ...(options.version === undefined ? {} : { version: options.version }),
    }),
  );
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
  // Accepted, but perhaps not for long: the account's secondary token dies when anyone creates another.
  const standing = await issuer.describe(state.newId, supplied).catch(() => undefined);
  if (standing?.notRotatable !== undefined) {
    state.warnings.push(standing.notRotatable);
    reporter.warn(standing.notRotatable);
  }
  issuer.adoptNew(supplied);
  await journal.append({ event: "credential-supplied", newId: state.newId, source });
  reporter.info(`run ${runId}, journal ${journal.path}`);
  return runFromVerify(state, "sync");
}

/** The credential the operator names: read from the environment, or taken from one store. Never printed. */
function suppliedCredential(
  context: EngineContext,
  options: SyncOptions,
  preflight: PreflightResult,
): StoredCredential {
  const { config } = context.loaded;
  const accountSid = config.twilio.accountSid;
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
  const name = options.fromEnv as string;
  const value = context.env[name];
  if (value === undefined || value === "") {
    throw new RotatorError(`--from-env: environment variable ${name} is ${value === undefined ? "not set" : "empty"}`, {
      exitCode: ExitCode.badInput,
      hint: `export ${name} with the ${context.issuer.labels.long}'s ${context.issuer.kind === "api-key" ? "secret" : "value"} first`,
    });
  }
  if (value !== value.trim()) {
    throw new RotatorError(`--from-env: ${name} has leading or trailing whitespace (a stray newline?)`, {
      exitCode: ExitCode.badInput,
      hint: "remove it: stores would get it verbatim, and Twilio would refuse it",
    });
  }
  registerSecret(value);
  if (context.issuer.kind === "auth-token") return { kind: "auth-token", accountSid, authToken: value };
  if (options.keySid === undefined || !/^SK[0-9a-f]{32}$/i.test(options.keySid)) {
    throw new RotatorError(
      "--from-env with an api-key config needs --key-sid SK… (the key whose secret the variable holds)",
      {
        exitCode: ExitCode.badInput,
      },
    );
  }
  const apiKeySid = `SK${options.keySid.slice(2).toLowerCase()}`;
  return { kind: "api-key", accountSid, apiKeySid, apiKeySecret: value };
}
