/**
 * Retry policy for Twilio calls: 429, 5xx and network errors are retried with backoff (honouring
 * Retry-After when Twilio sends it); every other 4xx is final, because repeating a request Twilio
 * rejected on its merits only delays the error the user must see.
 */
import pRetry, { AbortError } from "p-retry";
import { isTwilioApiError } from "./client.js";

export interface RetryPolicy {
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  /** Cap on how long a Retry-After may make us wait, so a bogus header can't hang a run. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  minTimeoutMs: 250,
  maxTimeoutMs: 8_000,
  maxRetryAfterMs: 60_000,
};

export function isRetryableTwilioError(error: unknown): boolean {
  if (isTwilioApiError(error)) return error.status === 429 || error.status >= 500;
  // No HTTP status at all: the request never got an answer (refused, reset, timed out).
  return error instanceof Error && !("status" in error);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withTwilioRetry<T>(
  operation: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  onRetry?: (error: Error, attempt: number) => void,
): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await operation();
      } catch (error) {
        if (!isRetryableTwilioError(error)) throw new AbortError(error as Error);
        throw error;
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      randomize: true,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) onRetry?.(error, attemptNumber);
        if (retriesLeft > 0 && isTwilioApiError(error) && error.retryAfterMs !== undefined) {
          await sleep(Math.min(error.retryAfterMs, policy.maxRetryAfterMs));
        }
      },
    },
  );
}
