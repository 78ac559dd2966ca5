/**
 * What the rest of rotator asks of a stored credential, whatever its type: each answer comes from the type's
 * definition (./registry.ts), so no caller needs to know which type it holds.
 */
import type { StoredCredential } from "../../providers/contract.js";
import { credentialTypeOf, definitionOf } from "./registry.js";

/** The credential's id (a key's SID, a token's fingerprint): journaled, compared, never secret. */
export function credentialId(credential: StoredCredential): string {
  return definitionOf(credential).id(credential);
}

/** The id as people see it (`SK…a1b2`). */
export function maskedId(credential: StoredCredential): string {
  return definitionOf(credential).masked(credential);
}

/** The secret values the credential holds: what the redactor must know before anything is printed. */
export function secretsOf(credential: StoredCredential): string[] {
  return definitionOf(credential).secretsOf(credential);
}

/**
 * The account's token as a credential of `type` (a type that is the account's own token: an admin token supplied
 * to stand in, checked with the issuer); undefined for any other type.
 */
export function accountTokenCredential(type: string, accountSid: string, token: string): StoredCredential | undefined {
  const definition = credentialTypeOf(type);
  if (!definition.accountToken) return undefined;
  const built = definition.supplied.build(accountSid, token, undefined);
  return typeof built === "string" ? undefined : built;
}

/** The credential without the previous one its type keeps beside it during a rotation (keepsPrevious), if any. */
export function withoutPrevious(credential: StoredCredential): StoredCredential {
  const field = definitionOf(credential).keepsPrevious?.field;
  if (field === undefined || credential[field] === undefined) return credential;
  const { [field]: _previous, ...rest } = credential;
  return rest as StoredCredential;
}
