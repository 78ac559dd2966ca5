/**
 * Every store call through the engine's wrapper (src/engine/fence.ts, providers/store-call.ts), with a provider
 * that does whatever a test tells it: a call is given up at its deadline and the store named unreachable (and,
 * for a while, found so at once); a change is started only while the lock is confirmed, and its request refused
 * once its time has passed; a lost lock reaches the engine as the state backend's own error.
 */
import { describe, expect, it } from "vitest";
import type { StoreProvider } from "../../providers/contract.js";
import { StoreError } from "../../providers/errors.js";
import { beforeSend, type StoreFence, storeChange } from "../../providers/store-call.js";
import { fencedStore, StoreUnreachableError } from "../../src/engine/fence.js";
import { ExitCode, RotatorError } from "../../src/errors.js";

const never = () => new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fakeProvider(calls: Partial<StoreProvider>): StoreProvider {
  return {
    name: "fake",
    type: "dotenv-file",
    capabilities: {
      checkAndSet: false,
      versioned: false,
      fence: "deadline",
      rollbackFencesWrites: false,
    },
    describe: () => "fake store /srv/fake",
    identity: async () => ({ key: "dotenv-file:/srv/fake", display: "fake" }),
    preflight: async () => ({ snapshot: { credential: undefined, version: undefined }, notes: [] }),
    read: async () => ({ credential: undefined, version: undefined }),
    prepare: async () => ({}),
    write: async () => "1",
    rollback: async () => {},
    release: async () => {},
    ...calls,
  };
}

const held = (until = Number.POSITIVE_INFINITY): StoreFence => ({ confirm: async () => until });
const lost: StoreFence = {
  confirm: async () => {
    throw new RotatorError("no longer holds the lease", { exitCode: ExitCode.locked });
  },
};

function wrap(provider: StoreProvider, fence: StoreFence | undefined = held(), timeoutMs = 200) {
  return fencedStore(provider, { timeoutMs, setting: "stores[0].timeoutSeconds", fence: () => fence });
}

const credential = { kind: "api-key" as const, accountSid: "AC1", apiKeySid: "SK1", apiKeySecret: "s" };

describe("a fenced store", () => {
  it("is still the store others fill when its provider is (the engine never writes it, it waits for it)", async () => {
    const sync = { from: "aws", timeoutSeconds: 30, request: async () => "asked" };
    const wrapped = wrap(fakeProvider({ sync })).sync;
    expect(wrapped).toMatchObject({ from: "aws", timeoutSeconds: 30 });
    // Its refresh request is the provider's, bounded by the call's deadline.
    expect(await wrapped?.request("r1")).toBe(await sync.request());
    expect(wrap(fakeProvider({})).sync).toBeUndefined();
  });
});

describe("a store call's deadline", () => {
  it("a store that never answers is named unreachable at its deadline, then found so at once for as long again", async () => {
    let reads = 0;
    const store = wrap(
      fakeProvider({
        read: () => {
          reads++;
          return never();
        },
      }),
    );
    const error = await store.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnreachableError);
    expect((error as StoreError).kind).toBe("retryable");
    expect((error as Error).message).toBe(
      'store "fake": fake store /srv/fake is unreachable: no answer within 0.2 s (stores[0].timeoutSeconds) to a read. ' +
        "Check that the store's server is up, answering, and reachable from this host; rotator gave the call up.",
    );
    await expect(store.preflight()).rejects.toBe(error);
    expect(reads).toBe(1);
    await sleep(250);
    await expect(store.read()).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(reads).toBe(2);
  });

  it("an identity lookup that never answers gives the config's spelling, marked unresolved", async () => {
    const store = wrap(fakeProvider({ identity: never }));
    expect(await store.identity()).toEqual({
      key: "dotenv-file:fake store /srv/fake",
      display: "fake store /srv/fake",
      unresolved: true,
    });
  });

  it("a call's requests see the deadline's signal abort", async () => {
    let signal: AbortSignal | undefined;
    const { callSignal } = await import("../../providers/store-call.js");
    const store = wrap(
      fakeProvider({
        read: () => {
          signal = callSignal();
          return never();
        },
      }),
    );
    await expect(store.read()).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(signal?.aborted).toBe(true);
  });
});

describe("a change's fence", () => {
  it("a process that lost its lock never starts a change: the state backend's error, the provider not called", async () => {
    let called = false;
    const store = wrap(
      fakeProvider({
        write: async () => {
          called = true;
          return "1";
        },
      }),
      lost,
    );
    const error = await store.write(credential, {}, { runId: "r" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotatorError);
    expect(error).not.toBeInstanceOf(StoreError);
    expect((error as RotatorError).exitCode).toBe(ExitCode.locked);
    expect(called).toBe(false);
  });

  it("a change without this process's lock is refused as a bug", async () => {
    const store = fencedStore(fakeProvider({}), { timeoutMs: 200, setting: "x", fence: () => undefined });
    await expect(store.rollback({}, { runId: "r", newKeyId: "SK1" })).rejects.toThrow(
      /rollback without this process's lock/,
    );
  });

  it("a lock lost between two requests of one call stops the second, with the state backend's error", async () => {
    let confirms = 0;
    const fence: StoreFence = {
      confirm: async () => {
        confirms++;
        if (confirms > 2) throw new RotatorError("no longer holds the lease", { exitCode: ExitCode.locked });
        return Number.POSITIVE_INFINITY;
      },
    };
    const sent: string[] = [];
    const store = wrap(
      fakeProvider({
        write: async () => {
          await storeChange("stage", async () => sent.push("stage"));
          await storeChange("switch", async () => sent.push("switch"));
          return "1";
        },
      }),
      fence,
    );
    const error = await store.write(credential, {}, { runId: "r" }).catch((e: unknown) => e);
    expect((error as RotatorError).exitCode).toBe(ExitCode.locked);
    expect(sent).toEqual(["stage"]);
  });

  it("a request whose time ran out while this process stalled is refused as it leaves, and said so", async () => {
    const sent: string[] = [];
    // The lease holds for 50 ms beyond the store's deadline margin: a stall of 100 ms outlives it.
    const store = wrap(
      fakeProvider({
        write: async () => {
          await storeChange("set", async () => {
            await sleep(100);
            await beforeSend();
            sent.push("set");
          });
          return "1";
        },
      }),
      { confirm: async () => performance.now() + 1_000 + 50 },
      1_000,
    );
    const error = await store.write(credential, {}, { runId: "r" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/did not set: the request was due to leave \d+ ms ago/);
    expect(sent).toEqual([]);
  });

  it("outside the engine's scope (the consumer library, provider tests) a change just runs", async () => {
    expect(await storeChange("write", async () => "done")).toBe("done");
    await expect(beforeSend()).resolves.toBeUndefined();
  });
});
