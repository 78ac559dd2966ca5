/**
 * Order-log tests: an in-process issuer and stores record every call, and each path (success, a failure
 * at each step) must produce exactly the expected sequence. Integration tests prove the real parts work;
 * these prove the engine calls them in the promised order.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { plan } from "../../src/commands/plan/run.js";
import { rotate } from "../../src/commands/rotate/run.js";
import type { EngineContext } from "../../src/engine/context.js";
import { stateOf } from "../../src/engine/state/index.js";
import { type Failure, fakeContext } from "./fake-world.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-order-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function context(log: string[], fail: Failure[] = []): EngineContext {
  return fakeContext({ stateDir, log, fail });
}

const PREFLIGHT = ["checkAdmin", "preflight:a", "preflight:b", "preflight:c"];

describe("the fixed order", () => {
  it("success: preflight, issue, verify, write a, b, c, revoke, confirm, release", async () => {
    const log: string[] = [];
    const result = await rotate(context(log));
    expect(result.status).toBe("completed");
    expect(log).toEqual([
      ...PREFLIGHT,
      "issue",
      "verify",
      "prepare:a",
      "write:a",
      "prepare:b",
      "write:b",
      "prepare:c",
      "write:c",
      "revoke:old",
      "confirmRefused",
      "release:a",
      "release:b",
      "release:c",
    ]);
  });

  it("a failed write of the third store rolls back b then a, discards the new key, never revokes", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["write:c"]));
    expect(result.status).toBe("rolled-back");
    expect(result.exitCode).toBe(3);
    expect(log.slice(PREFLIGHT.length)).toEqual([
      "issue",
      "verify",
      "prepare:a",
      "write:a",
      "prepare:b",
      "write:b",
      "prepare:c",
      "write:c",
      "rollback:c",
      "rollback:b",
      "rollback:a",
      "discard:new",
      "release:c",
      "release:b",
      "release:a",
    ]);
    expect(result.stores.map((s) => s.outcome)).toEqual(["rolled-back", "rolled-back", "rolled-back"]);
  });

  it("a new key that never authenticates is discarded before any store is touched", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["verify"]));
    expect(result.exitCode).toBe(3);
    expect(log.slice(PREFLIGHT.length)).toEqual(["issue", "verify", "discard:new"]);
  });

  it("a failed create touches nothing", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["issue"]));
    expect(result.exitCode).toBe(3);
    expect(log.slice(PREFLIGHT.length)).toEqual(["issue"]);
  });

  it("a store that cannot be rolled back keeps the new key alive and asks for an operator", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["write:c", "rollback:a"]));
    expect(result.exitCode).toBe(7);
    expect(result.next).toContain("rotator resume");
    expect(log).not.toContain("discard:new");
    expect(log).not.toContain("revoke:old");
    expect(log.slice(-3)).toEqual(["rollback:c", "rollback:b", "rollback:a"]);
  });

  it("a failed revoke leaves the run for resume and does not roll back the stores", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["revoke"]));
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(7);
    expect(result.next).toContain("retry the revoke");
    expect(log.filter((l) => l.startsWith("rollback"))).toEqual([]);
  });

  it("--if-due rotates a key older than maxAgeDays (here 100 days, limit 90)", async () => {
    const log: string[] = [];
    const result = await rotate(context(log), { ifDue: true });
    expect(result.status).toBe("completed");
    expect(log).toContain("revoke:old");
  });

  it("--if-due leaves a younger key alone and touches nothing", async () => {
    const log: string[] = [];
    const ctx = context(log);
    ctx.loaded.config.credential.maxAgeDays = 365;
    const result = await rotate(ctx, { ifDue: true });
    expect(result.status).toBe("not-due");
    expect(log).toEqual(PREFLIGHT);
  });

  it("plan runs the same preflight and nothing else", async () => {
    const log: string[] = [];
    const result = await plan(context(log));
    expect(result.exitCode).toBe(0);
    expect(log).toEqual(PREFLIGHT);
  });
});

describe("what the engine does with each kind of store failure", () => {
  it("needs-operator from the store being written: every other store rolled back, that one not touched, exit 7", async () => {
    const log: string[] = [];
    const ctx = context(log, ["refuse:b"]);
    const result = await rotate(ctx);
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(7);
    expect(log.slice(PREFLIGHT.length)).toEqual([
      "issue",
      "verify",
      "prepare:a",
      "write:a",
      "prepare:b",
      "write:b",
      "rollback:a",
      "discard:new",
      "release:a",
      "release:b",
    ]);
    expect(result.stores.map((s) => s.outcome)).toEqual(["rolled-back", "left-to-operator", "unchanged"]);
    expect(result.error).toContain('store "b": someone else changed it');
    expect(result.error).toContain("`rotator resume` has nothing left to do");
    // Over: nothing for resume (no `next`); what to check instead.
    expect(result.next).toBeUndefined();
    expect(result.hint).toContain("b should hold");
    const { records } = (await stateOf(ctx).readRun(result.runId!))!;
    expect(records.find((r) => r.event === "store-handed-over")).toMatchObject({ store: "b" });
    expect(records.some((r) => r.event === "store-rollback-failed")).toBe(false);
    expect(records.at(-1)).toMatchObject({ event: "run-finished", status: "failed", exitCode: 7 });
    expect(records.at(-1)).not.toHaveProperty("next");
  });

  it("needs-operator from the store being prepared: handed over too, exit 7 (nothing of the run was in it)", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["refuse-prepare:b"]));
    expect(result.exitCode).toBe(7);
    expect(log.slice(-5)).toEqual(["write:a", "prepare:b", "rollback:a", "discard:new", "release:a"]);
    expect(result.stores.map((s) => s.outcome)).toEqual(["rolled-back", "left-to-operator", "unchanged"]);
  });

  it("needs-operator from a store that holds the new credential after all: rolled back like the others", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["refuse-after:b"]));
    expect(result.exitCode).toBe(3);
    expect(log.slice(-5)).toEqual(["rollback:b", "rollback:a", "discard:new", "release:b", "release:a"]);
  });

  it("fatal from the store being written: every store it prepared rolled back, that one too, exit 3", async () => {
    const log: string[] = [];
    const result = await rotate(context(log, ["write:b"]));
    expect(result.status).toBe("rolled-back");
    expect(result.exitCode).toBe(3);
    expect(log.slice(-5)).toEqual(["rollback:b", "rollback:a", "discard:new", "release:b", "release:a"]);
  });
});
