import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newRunId } from "../../src/engine/journal.js";
import { LocalStateBackend } from "../../src/engine/state/local.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-local-journal-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe("the local state directory's journal", () => {
  it("keeps appends asked for at once in the order asked, on disk and in their sequence numbers", async () => {
    const journal = await new LocalStateBackend(stateDir).createJournal(newRunId(), "key");
    const reasons = Array.from({ length: 40 }, (_, i) => `reason ${i}`);
    const records = await Promise.all(reasons.map((reason) => journal.append({ event: "rollback-started", reason })));
    expect(records.map((record) => record.seq)).toEqual(reasons.map((_, i) => i + 1));
    const lines = (await readFile(journal.path, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.reason)).toEqual(reasons);
    expect(lines.map((line) => line.seq)).toEqual(reasons.map((_, i) => i + 1));
    expect((await journal.records()).map((record) => record.seq)).toEqual(reasons.map((_, i) => i + 1));
  });
});
