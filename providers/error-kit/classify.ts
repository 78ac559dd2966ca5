/**
 * The one rule that turns what a failed request said into what the engine does about it (providers/errors.ts,
 * StoreErrorKind). Each provider reads its SDK's error into these facts (an SDK's error shape is its own
 * knowledge) and words the message for its users; which kind a failure is, is decided here, once.
 */
import type { StoreErrorKind } from "../errors.js";
import { isBusyCode, isNetworkCode, isTimeoutName } from "./network.js";

/** What a failed request said, as far as deciding its kind goes. Never a body, a header or a secret. */
export interface FailureFacts {
  /** The HTTP status, when the store answered. */
  status?: number | undefined;
  /** A Node or SDK error code, when it did not (ECONNREFUSED, ...). */
  code?: string | undefined;
  /** The error's name (TimeoutError, ...). */
  name?: string | undefined;
  /**
   * The store said, in its own words, that the same request may work later: a throttling code in a 400 (AWS), a
   * performance standby not caught up yet (Vault's 412), a fault it marks as its own (AWS `$fault: "server"`).
   */
  passing?: boolean | undefined;
}

/**
 * - `retryable`: throttled (429), the store failed on its side (5xx), no answer came (a network code, a
 *   timeout), or a local resource is busy (EBUSY, EMFILE): the one retry policy (./retry.ts) tries again within
 *   the call's deadline.
 * - `fatal`: any other answer (401, 403, 404, 409, a 400 of the store's), a host that does not resolve, a TLS
 *   connection refused, anything unknown: trying again would fail the same way.
 *
 * `needs-operator` is never a transport's: a provider raises it when it finds the store changed by someone else.
 */
export function failureKind(facts: FailureFacts): Exclude<StoreErrorKind, "needs-operator"> {
  if (facts.passing === true) return "retryable";
  const { status } = facts;
  if (status !== undefined) return status === 429 || status >= 500 ? "retryable" : "fatal";
  return isNetworkCode(facts.code) || isBusyCode(facts.code) || isTimeoutName(facts.name) ? "retryable" : "fatal";
}
