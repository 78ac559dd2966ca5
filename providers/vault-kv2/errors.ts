/**
 * What went wrong talking to Vault, and what the engine should do about it.
 *
 * node-vault rejects with an ApiResponseError (the HTTP status and Vault's `errors`) or with an axios error
 * (no response: refused, reset, timed out, TLS). An axios error carries the request config, which holds the
 * `X-Vault-Token` header and the JSON body (the credential being written), so it is never passed on, not even
 * as `cause`: it is boiled down to a VaultRequestFailure holding the method, the API path, the status or error
 * code and Vault's own messages, none of which contains a secret.
 */
import { failureKind as kindOf } from "../error-kit/classify.js";
import { isTlsCode } from "../error-kit/network.js";
import { property, SafeCause } from "../error-kit/safe-cause.js";
import { StoreError, type StoreErrorKind } from "../errors.js";

/** `cas-mismatch` is a check-and-set conflict: someone else wrote; the caller decides what that means. */
export type FailureKind = "retryable" | "fatal" | "cas-mismatch";

const CAS_MISMATCH = /check-and-set parameter did not match/i;

/** One failed call to the Vault HTTP API, free of tokens and secret values. */
export class VaultRequestFailure extends SafeCause {
  override readonly name = "VaultRequestFailure";
  readonly kind: FailureKind;
  /** How many times the request was sent before giving up. */
  attempts = 1;

  constructor(
    readonly method: string,
    /** The API path after /v1/, e.g. `secret/data/apps/twilio`. */
    readonly path: string,
    /** HTTP status, or undefined when no response came back. */
    readonly status: number | undefined,
    /** Node or axios error code when no response came back (ECONNREFUSED, ...). */
    readonly code: string | undefined,
    /** Vault's `errors` array. */
    readonly vaultErrors: readonly string[],
  ) {
    super(`${method} /v1/${path}: ${reasonText(status, code, vaultErrors)}`);
    this.kind = failureKind(status, code, vaultErrors);
  }

  /** A short reason for a message: `HTTP 503 (Vault is sealed)`, `ECONNREFUSED`. */
  get reason(): string {
    return reasonText(this.status, this.code, this.vaultErrors);
  }
}

export function failureKind(
  status: number | undefined,
  code: string | undefined,
  vaultErrors: readonly string[],
): FailureKind {
  if (status === 400 && vaultErrors.some((message) => CAS_MISMATCH.test(message))) return "cas-mismatch";
  // 412: a performance standby has not caught up with the write yet (429 and 5xx, 503 for a sealed Vault or a
  // standby that cannot serve the request, are passing everywhere).
  return kindOf({ status, code, passing: status === 412 });
}

/** Turns whatever node-vault rejected with into a VaultRequestFailure, dropping everything else it carried. */
export function toRequestFailure(error: unknown, method: string, path: string): VaultRequestFailure {
  if (error instanceof VaultRequestFailure) return error;
  const response = property(error, "response");
  const status = property(response, "statusCode");
  if (typeof status === "number") {
    const errors = property(property(response, "body"), "errors");
    const messages = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === "string") : [];
    return new VaultRequestFailure(method, path, status, undefined, messages.map(tidyVaultMessage));
  }
  const code = property(error, "code");
  return new VaultRequestFailure(method, path, undefined, typeof code === "string" ? code : "ERR_UNKNOWN", []);
}

/** Vault wraps ACL errors as "1 error occurred:\n\t* permission denied\n\n"; keep the sentence. */
function tidyVaultMessage(message: string): string {
  const bullets = [...message.matchAll(/^\s*\* (.+)$/gm)].map((match) => match[1]?.trim() ?? "");
  return (bullets.length > 0 ? bullets.join("; ") : message.trim()).slice(0, 300);
}

function reasonText(status: number | undefined, code: string | undefined, vaultErrors: readonly string[]): string {
  const detail = vaultErrors.filter((message) => message !== "").join("; ");
  if (status !== undefined) return detail === "" ? `HTTP ${status}` : `HTTP ${status} (${detail})`;
  return code ?? "no response";
}

/** What a call needed, so a 403 can say which capability on which path to grant. */
export interface Needed {
  capability: string;
  /** The API path the capability is checked on, e.g. `secret/data/apps/twilio`. */
  path: string;
}

export interface FailureContext {
  store: string;
  address: string;
  /** What rotator was doing, as a verb phrase: `read Vault secret secret/apps/twilio`. */
  action: string;
  needed?: Needed | undefined;
  /** The token's policies, when known, so the message can say which policy to change. */
  policies?: readonly string[] | undefined;
  /** What to check, added to a fatal error's message. */
  hint?: string | undefined;
}

/** The StoreError the engine sees for a failed request, with the failure as `cause`. */
export function storeErrorFor(failure: VaultRequestFailure, context: FailureContext): StoreError {
  const { store, address, action } = context;
  const tries = failure.attempts > 1 ? ` after ${failure.attempts} attempts` : "";
  let kind: StoreErrorKind = failure.kind === "retryable" ? "retryable" : "fatal";
  let message: string;
  if (failure.kind === "cas-mismatch") {
    kind = "needs-operator";
    message = `cannot ${action}: someone else wrote it in the meantime (check-and-set failed); nothing was overwritten.`;
  } else if (failure.status === 403) {
    message = `permission denied to ${action}${permissionHint(context)}`;
  } else if (failure.status === 503) {
    message = `cannot ${action}: Vault at ${address} is unavailable (${failure.reason}; sealed, or a standby)${tries}. Try again once it is unsealed and active.`;
  } else if (failure.status === 429) {
    message = `cannot ${action}: Vault at ${address} is rate limiting requests (HTTP 429)${tries}. Try again later.`;
  } else if (failure.status !== undefined && failure.status >= 500) {
    message = `cannot ${action}: Vault at ${address} answered ${failure.reason}${tries}. Try again later.`;
  } else if (failure.status === 404) {
    message = `cannot ${action}: Vault at ${address} has no such path (${failure.reason}); check "address", "namespace" and "mount".`;
  } else if (failure.status !== undefined) {
    message = `cannot ${action}: Vault at ${address} answered ${failure.reason}.`;
  } else if (isTlsCode(failure.code)) {
    message =
      `cannot ${action}: the TLS connection to ${address} failed (${failure.code}). If Vault's certificate is ` +
      `signed by a private CA, set "caFile" to that CA's PEM file; check that "address" names the host the ` +
      "certificate was issued for, and uses https only if Vault serves TLS.";
  } else if (failure.kind === "retryable") {
    message = `cannot ${action}: Vault at ${address} is unreachable (${failure.reason})${tries}. Try again once it is reachable.`;
  } else if (failure.code === "ENOTFOUND") {
    message = `cannot ${action}: the host in "address" (${address}) does not resolve (ENOTFOUND); check "address".`;
  } else {
    message = `cannot ${action}: the request to ${address} failed (${failure.reason}).`;
  }
  if (kind === "fatal" && context.hint !== undefined) message += ` ${context.hint}`;
  return new StoreError(kind, store, message, { cause: failure });
}

function permissionHint({ needed, policies, hint }: FailureContext): string {
  if (needed === undefined) {
    return hint === undefined
      ? " (HTTP 403): the token is invalid or expired, or its policies do not allow it."
      : " (HTTP 403).";
  }
  const which =
    policies === undefined || policies.length === 0
      ? "the token's policies"
      : `the token's policies (${policies.join(", ")})`;
  return (
    ` (HTTP 403): ${which} lack "${needed.capability}" on "${needed.path}", or the token is invalid or expired. ` +
    `Grant it in one of those policies: path "${needed.path}" { capabilities = ["${needed.capability}", ...] }.`
  );
}
