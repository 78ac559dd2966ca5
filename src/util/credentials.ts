import type { StoredCredential } from "../../providers/contract.js";

/** Field-by-field equality of two stored credentials (secrets included), independent of key order. */
export function sameCredential(a: StoredCredential | undefined, b: StoredCredential | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind !== b.kind || a.accountSid !== b.accountSid) return false;
  if (a.kind === "api-key" && b.kind === "api-key") {
    return a.apiKeySid === b.apiKeySid && a.apiKeySecret === b.apiKeySecret;
  }
  return a.kind === "auth-token" && b.kind === "auth-token" && a.authToken === b.authToken;
}
