/**
 * The journal speaks the credential type's word on disk and neutral words in memory: every word a definition
 * can hold round-trips, hyphens included, and journals the earlier code wrote (fixtures, made with it) read back.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { journalWord } from "../../src/credentials/journal-word.js";
import { readJournal } from "../../src/engine/journal.js";
import { fromDisk, toDisk } from "../../src/engine/journal-words.js";

const fixtures = join(import.meta.dirname, "..", "fixtures", "journals");

/** Every neutral event or field the translation touches, with one that it leaves alone. */
const neutral: Record<string, unknown>[] = [
  { event: "credential-issued", newId: "id-1", createdAt: "2026-01-01T00:00:00.000Z" },
  { event: "credential-verified", newId: "id-1", attempts: 1, elapsedMs: 5 },
  { event: "credential-discarded", newId: "id-1" },
  { event: "old-credential-revoked", oldId: "id-0", outcome: "deleted", refusedWith20003: false },
  { event: "preflight-passed", oldId: "id-0", storeVersions: {} },
  { event: "consumers-checked", converged: true, results: [] },
];

describe("journal words", () => {
  it("writes a hyphenated word as one name and reads it back to the neutral events", () => {
    const word = journalWord("client-secret");
    const onDisk = neutral.map((event) => toDisk(event, word));
    expect(onDisk[0]).toEqual({
      event: "client-secret-issued",
      newClientSecretId: "id-1",
      createdAt: expect.any(String),
    });
    expect(onDisk[3]).toMatchObject({ event: "old-client-secret-revoked", oldClientSecretId: "id-0" });
    expect(onDisk.map(fromDisk)).toEqual(neutral);
  });

  it("round-trips the built-in words as before", () => {
    for (const word of ["key", "token", "secret-of-three-parts"]) {
      expect(neutral.map((event) => fromDisk(toDisk(event, word)))).toEqual(neutral);
    }
    expect(toDisk(neutral[0]!, "key")).toMatchObject({ event: "key-issued", newKeyId: "id-1" });
    expect(toDisk(neutral[3]!, "token")).toMatchObject({ event: "old-token-revoked", oldTokenId: "id-0" });
  });

  it("refuses a word whose names could not be read back", () => {
    for (const bad of ["Key", "client_secret", "client--secret", "-key", "key-", "", "k3y"]) {
      expect(() => journalWord(bad), bad).toThrow(/is not a journal word/);
      expect(() => toDisk(neutral[0]!, bad), bad).toThrow(/is not a journal word/);
    }
  });

  it("reads journals the earlier code wrote (0.1's API-key journal, a version 2 auth-token journal)", () => {
    const key = readJournal(join(fixtures, "api-key-0.1.jsonl"));
    expect(key.map((record) => record.event)).toEqual([
      "run-started",
      "preflight-passed",
      "issue-started",
      "credential-issued",
      "credential-verified",
      "store-prepared",
      "store-written",
      "stores-committed",
      "revoke-started",
    ]);
    expect(key[3]).toMatchObject({ newId: "SK00000000000000000000000000000002" });
    expect(key[8]).toMatchObject({ oldId: "SK00000000000000000000000000000001" });
    const token = readJournal(join(fixtures, "auth-token-v2.jsonl"));
    expect(token.slice(3).map((record) => record.event)).toEqual([
      "credential-issued",
      "credential-verified",
      "revoke-started",
      "old-credential-revoked",
      "credential-discarded",
    ]);
    expect(token[6]).toMatchObject({ oldId: "0123456789abcdef", outcome: "deleted" });
    expect(token[7]).toMatchObject({ newId: "fedcba9876543210" });
  });

  it("writes the built-in types' journals byte for byte as the earlier code did", () => {
    for (const [file, word] of [
      ["api-key-0.1.jsonl", "key"],
      ["auth-token-v2.jsonl", "token"],
    ] as const) {
      const lines = readFileSync(join(fixtures, file), "utf8").trim().split("\n");
      const rewritten = readJournal(join(fixtures, file)).map((record) =>
        JSON.stringify(toDisk(record as unknown as Record<string, unknown>, word)),
      );
      expect(rewritten).toEqual(lines);
    }
  });
});
