/**
 * Order-log tests: an in-process issuer and stores record every call, and each path (success, a failure
 * at each step) must produce exactly the expected sequence. Integration tests prove the real parts work;
 * these prove the engine calls them in the promised order.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RestorePoint, StoredCredential, StoreProvider, StoreSnapshot } from "../../providers/contract.js";
import { StoreError } from "../../providers/errors.js";
import { plan } from "../../src/commands/plan/run.js";
import { rotate } from "../../src/commands/rotate/run.js";
import { validateConfig } from "../../src/config/load.js";
import type { IssuedCredential, Issuer } from "../../src/credentials/issuer.js";
import type { EngineContext } from "../../src/engine/context.js";
import { silentReporter } from "../../src/engine/reporter.js";
import { stateOf } from "../../src/engine/state/index.js";

const ACCOUNT = `AC${"a".repeat(32)}`;
const OLD = {
  kind: "api-key",
  accountSid: ACCOUNT,
  apiKeySid: `SK${"0".repeat(32)}`,
  apiKeySecret: "old-secret-value-000",
} as const satisfies StoredCredential;
const NEW_SID = `SK${"1".repeat(32)}`;

/**
 * `write:` fails the write (fatal); `refuse:` refuses it, someone else having changed the store, which keeps their
 * value (needs-operator, as every provider's check-and-set); `refuse-prepare:` does so in prepare; `refuse-after:`
 * refuses after the write landed.
 */
type Failure =
  | "issue"
  | "verify"
  | "revoke"
  | `write:${string}`
  | `refuse:${string}`
  | `refuse-after:${string}`
  | `refuse-prepare:${string}`
  | `rollback:${string}`;

function fakes(log: string[], fail: Set<Failure>) {
  const issuer: Issuer = {
    kind: "api-key",
    labels: { noun: "key", long: "API key", word: "key", revoked: "deleted" },
    revokeEvenWhenOldIsDead: false,
    describeCreate: () => "create a key",
    describeRevoke: (old) => `revoke ${old}`,
    describeCreating: () => "creating a new API key",
    describeRevoking: (old) => `revoking the old key ${old}`,
    async preflight() {
      return { problems: [], notes: [] };
    },
    adoptNew() {},
    refusedBeforeCreating: () => false,
    friendlyNameFor: (runId) => `t-${runId}`,
    async checkAdmin() {
      log.push("checkAdmin");
    },
    async describe(id) {
      return { id, friendlyName: "seed", createdAt: new Date(Date.now() - 100 * 86_400_000) };
    },
    async issue(): Promise<IssuedCredential> {
      log.push("issue");
      if (fail.has("issue")) throw new Error("Twilio said no");
      return {
        id: NEW_SID,
        credential: { kind: "api-key", accountSid: ACCOUNT, apiKeySid: NEW_SID, apiKeySecret: "new-secret-value-111" },
        createdAt: new Date(),
      };
    },
    async checkCanVerify() {
      return undefined;
    },
    async authenticatesNow() {
      return true;
    },
    async verifyAuthenticates() {
      log.push("verify");
      if (fail.has("verify")) throw new Error("never authenticated");
      return { attempts: 1, elapsedMs: 1 };
    },
    async findCreatedBy() {
      return [];
    },
    describeDiscardedUnrecorded: (id) => ({ text: `deleted ${id}`, certain: true }),
    async discard(id) {
      log.push(`discard:${id === NEW_SID ? "new" : id}`);
      return "deleted";
    },
    async revoke(id) {
      log.push(`revoke:${id === OLD.apiKeySid ? "old" : id}`);
      if (fail.has("revoke")) throw new Error("Twilio 500");
      return "deleted";
    },
    async confirmRefused() {
      log.push("confirmRefused");
      return true;
    },
  };
  const store = (name: string): StoreProvider => {
    let held: StoredCredential | undefined = OLD;
    let version = 1;
    const snapshot = (): StoreSnapshot => ({ credential: held, version: String(version) });
    return {
      name,
      type: "dotenv-file",
      capabilities: {
        checkAndSet: false,
        versioned: false,
        fence: "deadline",
        rollbackFencesWrites: false,
      },
      describe: () => `fake ${name}`,
      async identity() {
        return { key: `fake:${name}`, display: `fake ${name}` };
      },
      async preflight() {
        log.push(`preflight:${name}`);
        return { snapshot: snapshot(), notes: [] };
      },
      async read() {
        return snapshot();
      },
      async prepare(): Promise<RestorePoint> {
        log.push(`prepare:${name}`);
        if (fail.has(`refuse-prepare:${name}`)) {
          held = { ...OLD, apiKeySid: `SK${"9".repeat(32)}`, apiKeySecret: "someone-elses-value" };
          throw new StoreError("needs-operator", name, "changed since preflight; nothing written");
        }
        return { version };
      },
      async write(next) {
        log.push(`write:${name}`);
        if (fail.has(`write:${name}`)) throw new StoreError("fatal", name, "denied");
        if (fail.has(`refuse:${name}`)) {
          held = { ...OLD, apiKeySid: `SK${"9".repeat(32)}`, apiKeySecret: "someone-elses-value" };
          throw new StoreError("needs-operator", name, "someone else changed it; nothing overwritten");
        }
        held = next;
        version += 1;
        if (fail.has(`refuse-after:${name}`)) throw new StoreError("needs-operator", name, "changed as it was written");
        return String(version);
      },
      async rollback() {
        log.push(`rollback:${name}`);
        if (fail.has(`rollback:${name}`)) throw new StoreError("needs-operator", name, "cannot");
        held = OLD;
      },
      async release() {
        log.push(`release:${name}`);
      },
    };
  };
  return { issuer, stores: [store("a"), store("b"), store("c")] };
}

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "rotator-order-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function context(log: string[], fail: Failure[] = []): EngineContext {
  const { issuer, stores } = fakes(log, new Set(fail));
  const config = validateConfig(
    {
      version: 1,
      twilio: { accountSid: ACCOUNT, admin: { authToken: { env: "X" } } },
      credential: { type: "api-key" },
      stores: stores.map((s) => ({ name: s.name, type: "dotenv-file", path: `/nonexistent/${s.name}.env` })),
    },
    "test.yaml",
  );
  return {
    loaded: {
      config,
      file: "test.yaml",
      baseDir: "/",
      admin: { accountSid: ACCOUNT, username: ACCOUNT, password: "x", passwordSource: "env X" },
    },
    issuer,
    stores,
    refs: stores.map((s) => ({ name: s.name, identity: `fake:${s.name}`, display: `fake ${s.name}` })),
    credentialKey: "aaaaaa-api-key-test",
    adminSwitches: [],
    legacyCredentialKeys: [],
    consumers: [],
    stateDir,
    reporter: silentReporter,
    env: {},
  };
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
