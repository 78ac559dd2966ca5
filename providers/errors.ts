/**
 * Errors the engine acts on. Every message names the store (its config name) and the identifier the user
 * gave (file path, secret id), says what to do, and never contains a secret value; the underlying error is
 * attached as `cause` so nothing is hidden from a debugger.
 */

/**
 * - `retryable`: a passing fault (throttling, 5xx, a dropped connection); retrying the same call may work.
 * - `fatal`: this run cannot go on (permission denied, not found, bad value); roll back.
 * - `needs-operator`: rotator cannot decide safely (someone else changed the store); stop and explain.
 */
export type StoreErrorKind = "retryable" | "fatal" | "needs-operator";

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly kind: StoreErrorKind;
  readonly store: string;

  constructor(kind: StoreErrorKind, store: string, message: string, options?: { cause?: unknown }) {
    super(`store "${store}": ${message}`, options);
    this.kind = kind;
    this.store = store;
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}
