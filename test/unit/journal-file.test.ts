/**
 * The run journal's file: 0600, append-only JSON lines with registered secrets redacted, a torn last line from a
 * crash ignored, and when a run counts as unfinished.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isUnfinished, Journal, listRuns, newRunId, readJournal } from "../../src/engine/journal.js";
import { clearRegisteredSecrets, registerSecret } from "../../src/util/mask.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rotator-state-"));
});
afterEach(async () => {
  clearRegisteredSecrets();
  await rm(dir, { recursive: true, force: true });
});

describe("journal", () => {
  it("is 0600, append-only JSON lines, and redacts any registered secret", async () => {
    const secret = "s3cr3t-value-that-must-not-leak";
    registerSecret(secret);
    const journal = Journal.create(dir, newRunId());
    journal.append({ event: "rollback-started", reason: `oops ${secret}` });
    journal.append({ event: "stores-committed" });
    expect((await stat(journal.path)).mode & 0o777).toBe(0o600);
    const text = await readFile(journal.path, "utf8");
    expect(text).not.toContain(secret);
    expect(readJournal(journal.path).map((r) => [r.seq, r.event])).toEqual([
      [1, "rollback-started"],
      [2, "stores-committed"],
    ]);
  });

  it("ignores a torn last line from a crash", async () => {
    const journal = Journal.create(dir, newRunId());
    journal.append({ event: "stores-committed" });
    await writeFile(journal.path, `${await readFile(journal.path, "utf8")}{"event":"rev`);
    expect(readJournal(journal.path)).toHaveLength(1);
    expect(Journal.reopen(dir, journal.runId).append({ event: "stores-released" }).seq).toBe(2);
  });

  it("a run is unfinished until it records an outcome, or when it failed with a next step", () => {
    const journal = Journal.create(dir, newRunId());
    journal.append({
      event: "run-started",
      command: "rotate",
      credentialKey: "k",
      accountSid: "AC",
      credentialType: "api-key",
      keyType: "standard",
      stores: [],
      pid: 1,
      host: "h",
      version: "0",
    });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(true);
    journal.append({ event: "run-finished", status: "failed", exitCode: 7, next: "resume" });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(true);
    journal.append({ event: "run-finished", status: "completed", exitCode: 0 });
    expect(isUnfinished(listRuns(dir)[0]!)).toBe(false);
  });
});
