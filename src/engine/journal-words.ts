/**
 * The journal on disk speaks the words of the credential type it rotates: an API-key run records
 * `key-issued {newKeyId}`, an auth-token run `token-issued {newTokenId}`, as an operator reading the audit
 * trail would say it. The engine reads and writes credential-neutral events (`credential-issued {newId}`);
 * this module translates at the journal's edge, both ways.
 *
 * Journals written before journal version 2 (rotator 0.1) are API-key journals in these same words, so they
 * read back unchanged: an interrupted 0.1 run still resumes.
 */

/** The word a credential type uses in its journal: "key", "token". */
export type JournalWord = string;

/** Neutral event names, and the worded name pattern each one has on disk (`*` is the word). */
const EVENT_WORDS: Record<string, string> = {
  "credential-issued": "*-issued",
  "credential-verified": "*-verified",
  "credential-discarded": "*-discarded",
  "old-credential-revoked": "old-*-revoked",
};

/** Neutral field names, and their worded form (`*` is the word, capitalised). */
const FIELD_WORDS: Record<string, string> = { newId: "new*Id", oldId: "old*Id" };

const capitalised = (word: string) => `${word.slice(0, 1).toUpperCase()}${word.slice(1)}`;

/** An event as the engine wrote it, in the type's words. */
export function toDisk(event: Record<string, unknown>, word: JournalWord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "event" && typeof value === "string" && EVENT_WORDS[value] !== undefined) {
      out.event = EVENT_WORDS[value].replace("*", word);
    } else if (FIELD_WORDS[key] !== undefined) {
      out[FIELD_WORDS[key].replace("*", capitalised(word))] = value;
    } else out[key] = value;
  }
  return out;
}

const EVENT_PATTERNS = Object.entries(EVENT_WORDS).map(([neutral, pattern]) => ({
  neutral,
  regex: new RegExp(`^${pattern.replace("*", "([a-z]+)")}$`),
}));
const FIELD_PATTERNS = Object.entries(FIELD_WORDS).map(([neutral, pattern]) => ({
  neutral,
  regex: new RegExp(`^${pattern.replace("*", "([A-Z][a-z]+)")}$`),
}));

/** A record as read from disk, in neutral words, whatever type's words it was written in. */
export function fromDisk(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === "event" && typeof value === "string") {
      out.event = EVENT_PATTERNS.find((p) => p.regex.test(value))?.neutral ?? value;
      continue;
    }
    const field = FIELD_PATTERNS.find((p) => p.regex.test(key));
    out[field?.neutral ?? key] = value;
  }
  return out;
}
