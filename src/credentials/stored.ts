/**
 * What the rest of rotator asks of a stored credential, whatever its type: each answer comes from the type's
 * definition (./registry.ts), so no caller needs to know which type it holds.
 */
import type { StoredCredential } from "../../providers/contract.js";
import { definitionOf } from "./registry.js";

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
