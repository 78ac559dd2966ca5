/**
 * Journals written before the step table (test/unit/fixtures/old-journals, made by the rotator of commit
 * 55399d1 with generate.ts there) still resume, and roll back, the way that rotator would have: each is put
 * in a fresh state directory beside a fake world holding what the frozen run had left in its stores.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredCredential } from "../../providers/contract.js";
import { resume, rollback } from "../../src/engine/index.js";
import { fakeContext, NEW, OLD, type WorldOptions } from "./fake-world.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "old-journals");

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-old-journals-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** Put the fixture in the state directory as its run's journal; the events it held before this command. */
async function placeJournal(name: string): Promise<{ runId: string; path: string; before: number }> {
  const source = join(fixtures, `${name}.jsonl`);
  const lines = (await readFile(source, "utf8")).trim().split("\n");
  const runId = JSON.parse(lines[0] as string).runId as string;
  await mkdir(join(stateDir, "runs"), { recursive: true });
  const path = join(stateDir, "runs", `${runId}.jsonl`);
  await copyFile(source, path);
  return { runId, path, before: lines.length };
}

async function eventsAfter(path: string, before: number): Promise<string[]> {
  const lines = (await readFile(path, "utf8")).trim().split("\n");
  return lines.slice(before).map((line) => JSON.parse(line).event);
}

const held = (a: StoredCredential, b: StoredCredential, c: StoredCredential) => ({ a, b, c });

function world(options: Omit<WorldOptions, "stateDir">) {
  const log: string[] = [];
  return { log, context: fakeContext({ ...options, stateDir, log }) };
}

describe("a journal written before the step table", () => {
  it("crashed after the new key was verified, before any store: resume rolls back (its secret is lost)", async () => {
    const journal = await placeJournal("crashed-after-verify");
    const { log, context } = world({ held: held(OLD, OLD, OLD) });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "rolled-back", exitCode: 3 });
    expect(result.error).toMatch(/no store holds the new key SK…1111, so its secret is lost/);
    expect(log).toEqual(["discard:new"]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "rollback-started",
      "key-discarded",
      "stores-released",
      "run-finished",
    ]);
  });

  it("crashed after writing store a (b prepared): resume recovers the key from a, writes b and c, revokes", async () => {
    const journal = await placeJournal("crashed-after-write");
    const { log, context } = world({ held: held(NEW, OLD, OLD) });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "completed", exitCode: 0, newKey: "SK…1111" });
    expect(log).toEqual([
      "verify",
      "write:b",
      "prepare:c",
      "write:c",
      "revoke:old",
      "confirmRefused",
      "release:a",
      "release:b",
      "release:c",
    ]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "key-verified",
      "store-written",
      "store-prepared",
      "store-written",
      "stores-committed",
      "stores-checked",
      "revoke-started",
      "old-key-revoked",
      "stores-released",
      "run-finished",
    ]);
  });

  it("crashed once the revoke was journaled: resume revokes and finishes", async () => {
    const journal = await placeJournal("crashed-during-revoke");
    const { log, context } = world({ held: held(NEW, NEW, NEW) });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "completed", exitCode: 0 });
    // The old secret is not known past the writes, so the revoke is not confirmed with it.
    expect(log).toEqual(["revoke:old", "release:a", "release:b", "release:c"]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "stores-checked",
      "revoke-started",
      "old-key-revoked",
      "stores-released",
      "run-finished",
    ]);
  });

  it("crashed during a rollback (c restored, b not yet): resume finishes the rollback", async () => {
    const journal = await placeJournal("crashed-during-rollback");
    const { log, context } = world({ held: held(NEW, NEW, OLD) });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "rolled-back", exitCode: 3, error: "finishing the interrupted rollback" });
    expect(log).toEqual([
      "rollback:c",
      "rollback:b",
      "rollback:a",
      "discard:new",
      "release:c",
      "release:b",
      "release:a",
    ]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "rollback-started",
      "store-rolled-back",
      "store-rolled-back",
      "store-rolled-back",
      "key-discarded",
      "stores-released",
      "run-finished",
    ]);
  });

  it("awaiting consumers, which use the new key now: resume re-checks them and revokes", async () => {
    const journal = await placeJournal("awaiting-consumers");
    const { log, context } = world({
      held: held(NEW, NEW, NEW),
      consumers: [{ name: "app", using: () => NEW.apiKeySid }],
    });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "completed", exitCode: 0 });
    expect(result.consumers).toMatchObject([{ name: "app", state: "converged" }]);
    // The old secret is not known past the writes, so the revoke is not confirmed with it.
    expect(log).toEqual(["revoke:old", "release:a", "release:b", "release:c"]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "consumers-checked",
      "stores-checked",
      "revoke-started",
      "old-key-revoked",
      "stores-released",
      "run-finished",
    ]);
  });

  it("awaiting consumers: the operator's rollback restores every store and deletes the new key (exit 0)", async () => {
    const journal = await placeJournal("awaiting-consumers");
    const { log, context } = world({
      held: held(NEW, NEW, NEW),
      consumers: [{ name: "app", using: () => OLD.apiKeySid }],
    });
    const result = await rollback(context);
    expect(result).toMatchObject({ status: "rolled-back", exitCode: 0, error: "rollback requested by the operator" });
    expect(log).toEqual([
      "rollback:c",
      "rollback:b",
      "rollback:a",
      "discard:new",
      "release:c",
      "release:b",
      "release:a",
    ]);
    expect((await eventsAfter(journal.path, journal.before)).at(-1)).toBe("run-finished");
  });

  it("a sync crashed after writing store a: resume writes b and c, and neither revokes nor deletes", async () => {
    const journal = await placeJournal("sync-crashed-after-write");
    const { log, context } = world({ held: held(NEW, OLD, OLD) });
    const result = await resume(context);
    expect(result).toMatchObject({ status: "completed", exitCode: 0, newKey: "SK…1111" });
    expect(log).toEqual(["verify", "write:b", "prepare:c", "write:c", "release:a", "release:b", "release:c"]);
    expect(await eventsAfter(journal.path, journal.before)).toEqual([
      "resume-started",
      "key-verified",
      "store-written",
      "store-prepared",
      "store-written",
      "stores-committed",
      "stores-checked",
      "stores-released",
      "run-finished",
    ]);
  });
});
