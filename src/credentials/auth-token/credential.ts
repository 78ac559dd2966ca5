/** An account's Auth Token as it lives in a store, and the check that a stored credential is one. */
import type { StoredCredential } from "../../../providers/contract.js";

export type AuthTokenCredential = StoredCredential & {
  readonly kind: "auth-token";
  readonly authToken: string;
  /** The token it replaces, while a rotation keeps it for validating webhooks signed before the promote. */
  readonly previousAuthToken?: string;
};

export function isAuthToken(credential: StoredCredential | undefined): credential is AuthTokenCredential {
  return credential?.kind === "auth-token" && typeof credential.authToken === "string";
}

/** The credential, checked to be an Auth Token; an Error (a bug: the engine hands an issuer its own type) otherwise. */
export function authTokenOf(credential: StoredCredential): AuthTokenCredential {
  if (!isAuthToken(credential)) throw new Error("the auth-token issuer was handed an API key");
  return credential;
}
