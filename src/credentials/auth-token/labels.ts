import type { CredentialLabels } from "../issuer.js";

export const AUTH_TOKEN_LABELS: CredentialLabels = {
  noun: "token",
  long: "auth token",
  word: "token",
  revoked: "promoted away",
};
