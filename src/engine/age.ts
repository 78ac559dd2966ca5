/**
 * How old the current credential is. Twilio says when an API key was made (`date_created`), but not when an
 * Auth Token became primary: for a token, the age is the end of the journaled run that put it in place
 * (any config's, in this state directory), and unknown when no such run is journaled.
 */
import type { CredentialInfo } from "../credentials/issuer.js";
import type { EngineContext } from "./context.js";
import { type CredentialAge, credentialAge } from "./preflight.js";
import { stateOf } from "./state/index.js";

export interface Birth {
  at: Date;
  /** Where the date comes from, for messages. */
  source: "twilio" | "journal";
}

export async function credentialBirth(
  context: Pick<EngineContext, "stateDir" | "state" | "loaded">,
  info: CredentialInfo | undefined,
): Promise<Birth | undefined> {
  if (info === undefined) return undefined;
  if (info.createdAt !== undefined) return { at: info.createdAt, source: "twilio" };
  const { config } = context.loaded;
  const made = (await stateOf(context).listRuns())
    .filter(
      (run) =>
        run.started?.accountSid === config.twilio.accountSid &&
        run.started.credentialType === config.credential.type &&
        run.finished?.status === "completed" &&
        run.records.some((r) => r.event === "credential-issued" && r.newId === info.id),
    )
    .at(-1);
  return made?.finished === undefined ? undefined : { at: new Date(made.finished.ts), source: "journal" };
}

/** The age of the credential `info` names, or undefined when nothing says when it was made. */
export async function ageOf(
  context: Pick<EngineContext, "stateDir" | "state" | "loaded">,
  info: CredentialInfo | undefined,
): Promise<(CredentialAge & { birth: Birth }) | undefined> {
  const birth = await credentialBirth(context, info);
  return birth === undefined ? undefined : { ...credentialAge(birth.at), birth };
}
