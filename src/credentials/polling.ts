/**
 * Waiting on Twilio with a deadline, never a fixed sleep: a new credential may take a moment to work
 * everywhere (propagation is undocumented), and a revoked one a moment to be refused. Both issuers use these.
 */
import { isTwilioApiError } from "../twilio/client.js";
import { isRetryableTwilioError } from "../twilio/retry.js";
import type { VerifyOutcome } from "./issuer.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const is20003 = (error: unknown): boolean => isTwilioApiError(error) && error.status === 401;

/**
 * Call until it succeeds: 20003 right after creation is propagation, 429/5xx/network are passing faults.
 * Anything else (403 from a restricted key's policy, 404 for a bad verifyPath) will not get better by
 * waiting, and is thrown at once. `what` names the credential in the error ("the new key SK…a1b2").
 */
export async function untilAuthenticates(
  call: () => Promise<unknown>,
  options: { timeoutMs: number; what: string },
): Promise<VerifyOutcome> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let attempts = 0;
  let wait = 250;
  for (;;) {
    attempts += 1;
    try {
      await call();
      return { attempts, elapsedMs: Date.now() - started };
    } catch (error) {
      const transient = is20003(error) || isRetryableTwilioError(error);
      if (!transient || Date.now() + wait > deadline) {
        throw new Error(
          `${options.what} did not authenticate within ${Math.round(options.timeoutMs / 1000)} s (${attempts} attempts): ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      const retryAfter = isTwilioApiError(error) ? error.retryAfterMs : undefined;
      await sleep(Math.max(wait, retryAfter ?? 0));
      wait = Math.min(wait * 2, 5_000);
    }
  }
}

/** Call until Twilio refuses it with 20003 (true), or the deadline passes (false). Other errors are thrown. */
export async function untilRefused(call: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let wait = 250;
  for (;;) {
    try {
      await call();
    } catch (error) {
      if (is20003(error)) return true;
      if (!isRetryableTwilioError(error)) throw error;
    }
    if (Date.now() + wait > deadline) return false;
    await sleep(wait);
    wait = Math.min(wait * 2, 5_000);
  }
}

export { sleep };
