/**
 * The journal on disk speaks the words of the credential type it rotates: an API-key run records
 * `key-issued {newKeyId}`, an auth-token run `token-issued {newTokenId}`, a type whose word is `client-secret`
 * `client-secret-issued {newClientSecretId}`, as an operator reading the audit trail would say it. The engine
 * reads and writes credential-neutral events (`credential-issued {newId}`); this module translates at the
 * journal's edge, both ways.
 *
 * Journals written before journal version 2 (rotator 0.1) are API-key journals in these same words, so they
 * read back unchanged: an interrupted 0.1 run still resumes.
 */
import { isJournalWord } from "../credentials/journal-word.js";

/** A credential type's journal word; definitions hold a checked one (credentials/journal-word.ts), and toDisk checks it again. */
export type JournalWord = string;

/** Neutral event names, and the worded name pattern each one has on disk (`*` is the word). */
const EVENT_WORDS: Record<string, string> = {
  "credential-issued": "*-issued",
  "credential-verified": "*-verified",
  "credential-discarded": "*-discarded",
  "old-credential-revoked": "old-*-revoked",
};

/** Neutral field names, and their worded form (`*` is the word in PascalCase: "client-secret" → "ClientSecret"). */
const FIELD_WORDS: Record<string, string> = { newId: "new*Id", oldId: "old*Id" };

/** A word's parts, each capitalised and joined, so a field name stays one identifier. */
const pascalCase = (word: string) =>
  word
    .split("-")
    .map((part) => `${part.slice(0, 1).toUpperCase()}${part.slice(1)}`)
    .join("");

/**
 * An event as the engine wrote it, in the type's words. The word is checked here too (a journal opened with a
 * word no definition could hold would write names it cannot read back).
 */
export function toDisk(event: Record<string, unknown>, word: string): Record<string, unknown> {
  if (!isJournalWord(word)) throw new Error(`"${word}" is not a journal word (see credentials/journal-word.ts)`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "event" && typeof value === "string" && EVENT_WORDS[value] !== undefined) {
      out.event = EVENT_WORDS[value].replace("*", word);
    } else if (FIELD_WORDS[key] !== undefined) {
      out[FIELD_WORDS[key].replace("*", pascalCase(word))] = value;
    } else out[key] = value;
  }
  return out;
}

// A word on disk: lowercase parts joined by hyphens in event names, capitalised parts run together in field names.
const EVENT_PATTERNS = Object.entries(EVENT_WORDS).map(([neutral, pattern]) => ({
  neutral,
  regex: new RegExp(`^${pattern.replace("*", "[a-z]+(?:-[a-z]+)*")}$`),
}));
const FIELD_PATTERNS = Object.entries(FIELD_WORDS).map(([neutral, pattern]) => ({
  neutral,
  regex: new RegExp(`^${pattern.replace("*", "(?:[A-Z][a-z]+)+")}$`),
}));
const NEUTRAL_EVENTS = new Set(Object.keys(EVENT_WORDS));

/** A record as read from disk, in neutral words, whatever type's words it was written in. */
export function fromDisk(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === "event" && typeof value === "string") {
      out.event = NEUTRAL_EVENTS.has(value)
        ? value
        : (EVENT_PATTERNS.find((p) => p.regex.test(value))?.neutral ?? value);
      continue;
    }
    const field = FIELD_PATTERNS.find((p) => p.regex.test(key));
    out[field?.neutral ?? key] = value;
  }
  return out;
}
