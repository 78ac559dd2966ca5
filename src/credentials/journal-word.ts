/**
 * The word a credential type's journal speaks ("key", "token", "client-secret"): `key-issued {newKeyId}`. The
 * journal derives event and field names from it (engine/journal-words.ts) and must read them back to the same
 * neutral events, so a word is lowercase letters in hyphen-joined parts: nothing a derived name could not
 * round-trip through. Only `journalWord()` makes one, so a definition cannot hold an unchecked word.
 */
declare const checked: unique symbol;

export type JournalWord = string & { readonly [checked]: true };

const JOURNAL_WORD = /^[a-z]+(?:-[a-z]+)*$/;

export function isJournalWord(text: string): text is JournalWord {
  return JOURNAL_WORD.test(text);
}

/** The word, checked; an Error naming the rule when it is not one (a definition's mistake, found at load). */
export function journalWord(text: string): JournalWord {
  if (!isJournalWord(text)) {
    throw new Error(
      `"${text}" is not a journal word: use lowercase letters, parts joined by single hyphens ("key", "client-secret")`,
    );
  }
  return text;
}
