/**
 * A torn last journal line (power cut mid-append) must not swallow what a later resume appends: reopen
 * ends the torn line first, and readJournal skips a bad line instead of stopping at it.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isUnfinished, Journal, listRuns } from "../../src/engine/journal.js";

const dir = mkdtempSync(join(tmpdir(), "rotator-review-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("journal after a torn last line", () => {
  it("records appended by resume after a torn line are read back, and the run is then finished", () => {
    const runId = "20261127T051000Z-abcdef";
    const journal = Journal.create(dir, runId);
    journal.append({
      event: "run-started",
      command: "rotate",
      credentialKey: "k",
      accountSid: "AC0",
      credentialType: "api-key",
      keyType: "standard",
      stores: [],
      pid: 1,
      host: "h",
      version: "0",
    });
    journal.append({ event: "issue-started", friendlyName: "rotator-x" });
    // The crash: half a line reached the disk (power cut, ENOSPC), no newline.
    appendFileSync(
      journal.path,
      '{"ts":"2026-11-27T05:10:01Z","seq":3,"runId":"20261127T051000Z-abcdef","event":"key-is',
    );

    const resumed = Journal.reopen(dir, runId);
    resumed.append({ event: "resume-started", pid: 2, host: "h" });
    resumed.append({ event: "credential-discarded", newId: "SK1", outcome: "absent" });
    resumed.append({ event: "run-finished", status: "rolled-back", exitCode: 3 });

    const [run] = listRuns(dir);
    expect(run!.records.map((r) => r.event)).toContain("run-finished");
    expect(isUnfinished(run!)).toBe(false);
  });
});
