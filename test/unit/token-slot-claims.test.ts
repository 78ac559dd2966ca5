/**
 * The Auth Token slot claim (src/engine/token-slot.ts) under interleavings an e2e race rarely hits: two runs
 * whose creates both land before either lists, a newcomer arriving while a run holds the slot, a stale claim of
 * a finished run, a claim no state here knows. The account's keys are an in-memory list whose calls the test
 * orders; each run has a state directory of its own (so neither sees the other's journal, as from two hosts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AccountMarks } from "../../src/credentials/issuer.js";
import { silentReporter } from "../../src/engine/reporter.js";
import { LocalStateBackend } from "../../src/engine/state/local.js";
import { claimTokenSlot } from "../../src/engine/token-slot.js";
import { RotatorError } from "../../src/errors.js";

const ACCOUNT = `AC${"b".repeat(32)}`;

/** The account's keys, shared by every run (each call a step of its own: runs interleave between them). */
function account() {
  const keys: Array<{ sid: string; friendlyName: string; dateCreated: Date }> = [];
  let next = 0;
  const marks = (): AccountMarks => ({
    async list() {
      await Promise.resolve();
      return keys.map((key) => ({ ...key }));
    },
    async create(friendlyName) {
      next += 1;
      const sid = `SK${String(next).padStart(32, "0")}`;
      keys.push({ sid, friendlyName, dateCreated: new Date() });
      return sid;
    },
    async remove(sid) {
      const index = keys.findIndex((key) => key.sid === sid);
      if (index < 0) return "absent";
      keys.splice(index, 1);
      return "deleted";
    },
  });
  return { keys, marks };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function run(marks: AccountMarks, runId: string) {
  const stateDir = await mkdtemp(join(tmpdir(), "rotator-slot-"));
  dirs.push(stateDir);
  const state = new LocalStateBackend(stateDir);
  const journal = await state.createJournal(runId, "token");
  await journal.append({
    event: "run-started",
    command: "rotate",
    credentialKey: "k",
    accountSid: ACCOUNT,
    credentialType: "auth-token",
    stores: [],
    pid: 1,
    host: "h",
    version: "test",
  });
  const context = {
    loaded: { config: { twilio: { accountSid: ACCOUNT }, credential: { type: "auth-token" } } },
    issuer: { marks },
    refs: [],
    stateDir,
    state,
    credentialKey: "k",
    legacyCredentialKeys: [],
    reporter: silentReporter,
    env: {},
  } as unknown as Parameters<typeof claimTokenSlot>[0];
  return { context, journal, state, claim: () => claimTokenSlot(context, runId, journal) };
}

const claimsOf = (keys: Array<{ friendlyName: string }>) =>
  keys.filter((key) => key.friendlyName.startsWith("rotator-token-slot-")).map((key) => key.friendlyName);

describe("claiming an account's Auth Token slot", () => {
  it("a run alone claims it; another, later, is refused naming it (not journaled in its state)", async () => {
    const { keys, marks } = account();
    const a = await run(marks(), "run-a");
    const b = await run(marks(), "run-b");
    await a.claim();
    expect(claimsOf(keys)).toEqual(["rotator-token-slot-run-a"]);
    const refusal = await b.claim().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(RotatorError);
    expect((refusal as RotatorError).exitCode).toBe(6);
    expect((refusal as RotatorError).message).toMatch(
      /is claimed by run run-a .*which state directory .* does not know/,
    );
    expect(claimsOf(keys)).toEqual(["rotator-token-slot-run-a"]);
  });

  it("two claiming at once, both creates before either list: at most one goes on, whatever the order after", async () => {
    for (let trial = 0; trial < 20; trial++) {
      const { keys, marks } = account();
      const a = await run(marks(), `run-a${trial}`);
      const b = await run(marks(), `run-b${trial}`);
      const outcomes = await Promise.allSettled([a.claim(), b.claim()]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won.length).toBeLessThanOrEqual(1);
      // The winner's claim alone stands; a loser left none behind.
      expect(claimsOf(keys)).toHaveLength(won.length);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") expect([5, 6]).toContain((outcome.reason as RotatorError).exitCode);
      }
    }
  });

  it("a run holding the slot waits a newcomer's claim out; it never obeys it", async () => {
    const { keys, marks } = account();
    const a = await run(marks(), "run-a");
    await a.claim();
    // A newcomer's claim appears, and goes a moment later (it saw run-a's and gave its own up).
    const newcomer = await marks().create("rotator-token-slot-run-new");
    setTimeout(() => void marks().remove(newcomer), 300);
    await a.claim();
    expect(claimsOf(keys)).toEqual(["rotator-token-slot-run-a"]);
  });

  it("a claim whose run this state shows finished is stale: removed, and the slot claimed", async () => {
    const { keys, marks } = account();
    const a = await run(marks(), "run-a");
    await a.claim();
    await a.journal.append({ event: "run-finished", status: "completed", exitCode: 0 });
    // A later run in the same state directory, after run-a's process died before removing its claim.
    const journal = await a.state.createJournal("run-c", "token");
    await claimTokenSlot(a.context, "run-c", journal);
    expect(claimsOf(keys)).toEqual(["rotator-token-slot-run-c"]);
  });
});
