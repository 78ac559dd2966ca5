import type { CredentialLabels } from "../issuer.js";

export const API_KEY_LABELS: CredentialLabels = { noun: "key", long: "API key", word: "key", revoked: "deleted" };
