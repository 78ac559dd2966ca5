import type { CredentialLabels } from "../issuer.js";
import { journalWord } from "../journal-word.js";

export const AUTH_TOKEN_LABELS = {
  noun: "token",
  long: "auth token",
  word: journalWord("token"),
  revoked: "promoted away",
} satisfies CredentialLabels;
