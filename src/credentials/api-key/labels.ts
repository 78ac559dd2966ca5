import type { CredentialLabels } from "../issuer.js";
import { journalWord } from "../journal-word.js";

export const API_KEY_LABELS = {
  noun: "key",
  long: "API key",
  word: journalWord("key"),
  revoked: "deleted",
} satisfies CredentialLabels;
