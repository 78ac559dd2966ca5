/**
 * The step table is the one definition of a run's order: each operation's steps, the credential type's own
 * among them, where resume enters a journal, and the plan rendered from the same table.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountMarks } from "../../src/credentials/issuer.js";
import { plan } from "../../src/engine/index.js";
import type { JournalRecord } from "../../src/engine/journal.js";
import { resumeEntry, stepsOf } from "../../src/engine/step-table.js";
import { fakeContext } from "./fake-world.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-steps-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

const WRITES = ["verify", "write-stores", "await-synced-stores", "canary", "await-consumers", "check-stores"];
const records = (...events: string[]) => events.map((event) => ({ event })) as unknown as JournalRecord[];

describe("the step table", () => {
  it("rotate: issue, the writes, the checks before the revoke, revoke, finish", () => {
    const context = fakeContext({ stateDir });
    expect(stepsOf({ kind: "rotate" }, context).map((step) => step.id)).toEqual([
      "issue",
      ...WRITES,
      "new-still-alive",
      "no-other-holders",
      "revoke",
      "finish",
    ]);
  });

  it("an issuer keeping the account's token slot adds its own steps: claim it first, check it before the promote", () => {
    const context = fakeContext({ stateDir });
    const withSlot = { issuer: { ...context.issuer, marks: {} as AccountMarks } };
    expect(stepsOf({ kind: "rotate" }, withSlot).map((step) => step.id)).toEqual([
      "claim-slot",
      "issue",
      ...WRITES,
      "new-still-alive",
      "slot-still-claimed",
      "no-other-holders",
      "revoke",
      "finish",
    ]);
    // A sync neither issues nor revokes, so it has none of them.
    expect(stepsOf({ kind: "sync" }, withSlot).map((step) => step.id)).toEqual([...WRITES, "finish"]);
  });

  it("a type that keeps its previous credential (the Auth Token, for webhooks) retires it after the revoke; an API key does not", () => {
    const context = fakeContext({ stateDir });
    expect(context.issuer.kind).toBe("api-key");
    const apiKey = stepsOf({ kind: "rotate" }, context).map((step) => step.id);
    for (const id of ["signing-lag", "retire-previous", "await-synced-retired", "await-retired"]) {
      expect(apiKey).not.toContain(id);
    }
    const token = { issuer: { ...context.issuer, kind: "auth-token", marks: {} as AccountMarks } };
    expect(stepsOf({ kind: "rotate" }, token).map((step) => step.id)).toEqual([
      "claim-slot",
      "issue",
      ...WRITES,
      "new-still-alive",
      "slot-still-claimed",
      "no-other-holders",
      "revoke",
      "signing-lag",
      "retire-previous",
      "await-synced-retired",
      "await-retired",
      "finish",
    ]);
    expect(stepsOf({ kind: "sync" }, token).map((step) => step.id)).toEqual([...WRITES, "finish"]);
    const at = (...events: string[]) => resumeEntry({ kind: "rotate" }, token, records(...events))?.step.id;
    expect(at("credential-issued", "stores-committed", "revoke-started")).toBe("await-synced-stores");
    expect(at("stores-committed", "revoke-started", "old-credential-revoked")).toBe("signing-lag");
    expect(at("old-credential-revoked", "retire-started", "store-retire-prepared")).toBe("retire-previous");
    // After the retire write: the synced stores are waited for again (they may still hold the previous one).
    expect(at("retire-started", "store-retired", "previous-retired")).toBe("await-synced-retired");
  });

  it("resume enters at the furthest step whose checkpoint the journal holds", () => {
    const context = fakeContext({ stateDir });
    const at = (kind: "rotate" | "sync", ...events: string[]) =>
      resumeEntry({ kind }, context, records(...events))?.rest.map((step) => step.id);
    expect(at("rotate", "run-started", "preflight-passed", "issue-started")).toBeUndefined();
    expect(at("rotate", "issue-started", "credential-issued", "store-prepared")).toEqual(
      stepsOf({ kind: "rotate" }, context)
        .slice(1)
        .map((step) => step.id),
    );
    expect(at("rotate", "credential-issued", "stores-committed", "revoke-started")?.[0]).toBe("await-synced-stores");
    expect(at("sync", "credential-supplied", "store-written")).toEqual([...WRITES, "finish"]);
  });

  it("plan lists the table's steps that change or wait for something, in the table's order", async () => {
    const result = await plan(fakeContext({ stateDir }));
    expect(result.actions.map((action) => action.action)).toEqual([
      "preflight",
      "create",
      "verify",
      "write",
      "write",
      "write",
      "await-consumers",
      "revoke",
      "finish",
      "on-failure",
    ]);
  });
});
