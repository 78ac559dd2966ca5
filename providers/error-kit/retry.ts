/**
 * The one retry policy of every store call: a failure of kind `retryable` (./classify.ts) is tried again a few
 * times with a growing, jittered pause, and never past the store call's deadline (providers/store-call.ts: the
 * store's `timeoutSeconds`, within half the lease on PostgreSQL, src/engine/deadlines.ts). A request that may
 * change the store is bounded further by the lease: each of its attempts goes through `storeChange` and
 * `beforeSend` again, which refuse it once this process may no longer hold the lock.
 */
import pRetry from "p-retry";
import { isStoreError } from "../errors.js";
import { callSignal, callTimeLeftMs } from "../store-call.js";

export interface RetryPolicy {
  /** Tries after the first. */
  retries: number;
  /** The first pause; each next one doubles (with jitter), up to `maxTimeoutMs`. */
  minTimeoutMs: number;
  maxTimeoutMs: number;
  /** No new try after this long, whatever `retries` says (outside a store call, which has its own deadline). */
  maxRetryTimeMs?: number | undefined;
  /** A store asking (429 Retry-After) to wait longer than this is not waited for: the failure stands. */
  maxRetryAfterMs?: number | undefined;
}

/** Four tries, 0.2 to 1 s apart (longer if the store asks, up to 10 s), 30 s at most: a throttle, a lost connection. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 3,
  minTimeoutMs: 200,
  maxTimeoutMs: 1_000,
  maxRetryTimeMs: 30_000,
  maxRetryAfterMs: 10_000,
};

export interface RetryOptions {
  policy?: RetryPolicy | undefined;
  /** Whether a failure is worth another try: by default a StoreError of kind `retryable`. */
  retryable?: (error: Error) => boolean;
  /** How long the store asked to wait before the next try (a 429's Retry-After), in ms. */
  retryAfterMs?: (error: Error) => number | undefined;
}

/**
 * `attempt` (given its 1-based number), tried again while it fails in a passing way and the policy and the call's
 * deadline allow. A try is started only while the longest pause before it still ends before the deadline: a try
 * the deadline would cut off only delays the finding. The last failure is what rejects.
 */
export function withRetries<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const retryable = options.retryable ?? ((error) => isStoreError(error) && error.kind === "retryable");
  const started = performance.now();
  const signal = callSignal();
  return pRetry(attempt, {
    retries: policy.retries,
    factor: 2,
    minTimeout: policy.minTimeoutMs,
    maxTimeout: policy.maxTimeoutMs,
    randomize: true,
    ...(policy.maxRetryTimeMs === undefined ? {} : { maxRetryTime: policy.maxRetryTimeMs }),
    ...(signal === undefined ? {} : { signal }),
    shouldRetry: ({ error }) => retryable(error) && callTimeLeftMs() > policy.maxTimeoutMs,
    // A store that asked to wait (429 Retry-After) is waited for beyond the backoff, within the bounds, or not at all.
    onFailedAttempt: async ({ error, retriesLeft }) => {
      if (retriesLeft === 0 || !retryable(error)) return;
      const asked = options.retryAfterMs?.(error);
      if (asked === undefined) return;
      const elapsed = performance.now() - started;
      if (
        asked > (policy.maxRetryAfterMs ?? policy.maxTimeoutMs) ||
        elapsed + asked > (policy.maxRetryTimeMs ?? Number.POSITIVE_INFINITY) ||
        asked + policy.maxTimeoutMs >= callTimeLeftMs()
      ) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, asked));
    },
  });
}
