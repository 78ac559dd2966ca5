/**
 * Authentication and authorization as Twilio does them.
 *
 * Basic auth carries either AccountSid:AuthToken (primary, or secondary while it exists) or KeySid:Secret.
 * Every refusal is the same 401 (20003) whatever the cause, as on Twilio, so a caller cannot tell a wrong
 * secret from a deleted key from a credential that may not call this endpoint.
 */
import { authenticate as unauthenticated } from "./errors.js";
import { ACCOUNT_SID, digest, KEY_SID, sameSecret } from "./format.js";
import { allows } from "./policy.js";
import type { EmulatorState, KeyRecord } from "./state.js";

export type Principal =
  | { kind: "auth-token"; accountSid: string; token: "primary" | "secondary" }
  | { kind: "key"; accountSid: string; key: KeyRecord };

/**
 * What an operation demands of the credential:
 * - `account-admin`: /Accounts, /Keys (v2010 and v1) and /v1/AuthTokens; auth tokens and Main keys only.
 * - `permission`: any other endpoint; auth tokens, Main and Standard keys, and Restricted keys whose
 *   policy allows the named permission.
 */
export type Access = { kind: "account-admin" } | { kind: "permission"; permission: string };

export function authenticate(header: string | undefined, state: EmulatorState): Principal {
  const credentials = parseBasic(header);
  if (!credentials) throw unauthenticated();
  const { username, password } = credentials;
  if (ACCOUNT_SID.test(username)) {
    const account = state.account(username);
    if (account?.status !== "active") throw unauthenticated();
    if (sameSecret(password, digest(account.authToken.value))) {
      return { kind: "auth-token", accountSid: account.sid, token: "primary" };
    }
    const secondary = account.secondaryAuthToken;
    if (secondary && sameSecret(password, digest(secondary.value))) {
      return { kind: "auth-token", accountSid: account.sid, token: "secondary" };
    }
    throw unauthenticated();
  }
  if (KEY_SID.test(username)) {
    const key = state.key(username);
    if (!key || !sameSecret(password, key.secretDigest)) throw unauthenticated();
    // A key whose account is suspended or closed, or that has not propagated yet, does not authenticate.
    if (state.account(key.accountSid)?.status !== "active" || state.nowMs() < key.activeAt) throw unauthenticated();
    return { kind: "key", accountSid: key.accountSid, key };
  }
  throw unauthenticated();
}

/** Refuses a credential that may not call this kind of endpoint at all. */
export function authorize(principal: Principal, access: Access): void {
  if (principal.kind === "auth-token") return;
  const { key } = principal;
  if (key.type === "main") return;
  if (access.kind === "account-admin") throw unauthenticated();
  if (key.type === "restricted" && !(key.policy && allows(key.policy, access.permission))) throw unauthenticated();
}

/** Refuses acting on an account that is neither the credential's own nor one of its subaccounts. */
export function requireScope(principal: Principal, targetAccountSid: string, state: EmulatorState): void {
  if (!state.canActOn(principal.accountSid, targetAccountSid)) throw unauthenticated();
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
