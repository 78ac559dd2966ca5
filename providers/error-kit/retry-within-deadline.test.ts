/**
 * The one retry policy: a `retryable` failure is tried again, a `fatal` or `needs-operator` one never; and no try
 * starts that the store call's deadline would cut off, nor a wait a store asked for that would end past it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../errors.js";
import { inStoreCall, type StoreCallScope } from "../store-call.js";
import { type RetryPolicy, withRetries } from "./retry.js";

beforeEach(() => {
  expect.hasAssertions();
});

const FAST: RetryPolicy = { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 };

/** An attempt that fails `failures` times with `kind`, then answers; counts its tries. */
function flaky(kind: StoreError["kind"], failures: number) {
  const tries = { count: 0 };
  const attempt = async () => {
    tries.count++;
    if (tries.count <= failures) throw new StoreError(kind, "store", `try ${tries.count} failed`);
    return "answer";
  };
  return { tries, attempt };
}

function scope(deadlineInMs: number): StoreCallScope {
  return {
    store: "store",
    signal: new AbortController().signal,
    deadline: performance.now() + deadlineInMs,
    marginMs: 0,
  };
}

describe("withRetries", () => {
  it("tries a retryable failure again, up to the policy's retries", async () => {
    const { tries, attempt } = flaky("retryable", 2);
    expect(await withRetries(attempt, { policy: FAST })).toBe("answer");
    expect(tries.count).toBe(3);
  });

  it("gives up after the policy's retries, with the last failure", async () => {
    const { tries, attempt } = flaky("retryable", 10);
    await expect(withRetries(attempt, { policy: FAST })).rejects.toThrow("try 4 failed");
    expect(tries.count).toBe(4);
  });

  it.each(["fatal", "needs-operator"] as const)("never tries a %s failure again", async (kind) => {
    const { tries, attempt } = flaky(kind, 1);
    await expect(withRetries(attempt, { policy: FAST })).rejects.toMatchObject({ kind });
    expect(tries.count).toBe(1);
  });

  it("starts no try the store call's deadline would cut off", async () => {
    const { tries, attempt } = flaky("retryable", 10);
    // Less time left than the longest pause: the first failure stands.
    const policy: RetryPolicy = { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 10_000 };
    await expect(inStoreCall(scope(5_000), () => withRetries(attempt, { policy }))).rejects.toThrow("try 1 failed");
    expect(tries.count).toBe(1);
  });

  it("tries again within a deadline that leaves room", async () => {
    const { tries, attempt } = flaky("retryable", 2);
    expect(await inStoreCall(scope(60_000), () => withRetries(attempt, { policy: FAST }))).toBe("answer");
    expect(tries.count).toBe(3);
  });

  it("waits as long as the store asked (Retry-After) within the bounds, and not when it asks too much", async () => {
    const asked = (ms: number) => () => ms;
    const short = flaky("retryable", 1);
    await withRetries(short.attempt, { policy: { ...FAST, maxRetryAfterMs: 1_000 }, retryAfterMs: asked(50) });
    expect(short.tries.count).toBe(2);

    const long = flaky("retryable", 1);
    await expect(
      withRetries(long.attempt, { policy: { ...FAST, maxRetryAfterMs: 1_000 }, retryAfterMs: asked(60_000) }),
    ).rejects.toThrow("try 1 failed");
    expect(long.tries.count).toBe(1);
  });
});
