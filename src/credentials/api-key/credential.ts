/** An API key as it lives in a store, and the check that a stored credential is one. */
import type { StoredCredential } from "../../../providers/contract.js";

export type ApiKeyCredential = StoredCredential & {
  readonly kind: "api-key";
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
};

export function isApiKey(credential: StoredCredential | undefined): credential is ApiKeyCredential {
  return (
    credential?.kind === "api-key" &&
    typeof credential.apiKeySid === "string" &&
    typeof credential.apiKeySecret === "string"
  );
}

/** The credential, checked to be an API key; an Error (a bug: the engine hands an issuer its own type) otherwise. */
export function apiKeyOf(credential: StoredCredential): ApiKeyCredential {
  if (!isApiKey(credential)) throw new Error("the api-key issuer was handed an auth token");
  return credential;
}
