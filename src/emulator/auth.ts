/**
 * Authentication and authorization as Twilio does them.
 *
 * Basic auth carries AccountSid:AuthToken (primary, or secondary while it exists), KeySid:Secret, or an
 * account's test credentials (TestAccountSid:TestAuthToken). Credentials belong to one Region and
 * authenticate only there. Every refusal is the same 401 (20003) whatever the cause, as on Twilio, so a
 * caller cannot tell a wrong secret from a deleted key from a credential that may not call this endpoint;
 * the exceptions are Twilio's own: test credentials on a resource they cannot reach (403, 20008) and,
 * when the behaviour asks for it, an inactive account (20005).
 */
import type { EmulatorBehaviour } from "./behaviour.js";
import { accountNotActive, testCredentialsForbidden, authenticate as unauthenticated } from "./errors.js";
import { ACCOUNT_SID, KEY_SID, sameSecret } from "./format.js";
import { allows } from "./policy.js";
import { DEFAULT_REGION } from "./region.js";
import type { SpecName } from "./spec.js";
import type { AccountRecord, EmulatorState, KeyRecord } from "./state.js";

export type Principal =
  | { kind: "auth-token"; accountSid: string; region: string; token: "primary" | "secondary" }
  | { kind: "key"; accountSid: string; region: string; key: KeyRecord }
  /** `accountSid` is the live account the test credentials belong to; requests name `testAccountSid`. */
  | { kind: "test-credentials"; accountSid: string; region: string; testAccountSid: string };

/**
 * What an operation demands of the credential:
 * - `account-admin`: /Accounts, /Keys (v2010 and v1) and /v1/AuthTokens; auth tokens and Main keys only.
 * - `permission`: any other endpoint; auth tokens, Main and Standard keys, and Restricted keys whose
 *   policy allows the named permission.
 */
export type Access = { kind: "account-admin" } | { kind: "permission"; permission: string };

/** What the checks need to know about the route being called. */
export interface RouteAccess {
  spec: SpecName;
  access: Access;
  /** One of the few endpoints test credentials may call. */
  testCredentials?: boolean | undefined;
}

export function authenticate(
  header: string | undefined,
  state: EmulatorState,
  region: string,
  behaviour: EmulatorBehaviour,
): Principal {
  const credentials = parseBasic(header);
  if (!credentials) throw unauthenticated();
  const { username, password } = credentials;
  if (ACCOUNT_SID.test(username)) {
    const account = state.account(username);
    const tokens = account?.tokens.get(region);
    if (account && tokens) {
      const token = sameSecret(password, tokens.primary.digest)
        ? "primary"
        : tokens.secondary && sameSecret(password, tokens.secondary.digest)
          ? "secondary"
          : undefined;
      if (token === undefined) throw unauthenticated();
      requireActive(account, state, behaviour);
      return { kind: "auth-token", accountSid: account.sid, region, token };
    }
    // Test credentials are documented for api.twilio.com only, i.e. US1.
    const live = region === DEFAULT_REGION ? state.accountByTestSid(username) : undefined;
    if (live?.test && sameSecret(password, live.test.token.digest)) {
      requireActive(live, state, behaviour);
      return { kind: "test-credentials", accountSid: live.sid, region, testAccountSid: live.test.accountSid };
    }
    throw unauthenticated();
  }
  if (KEY_SID.test(username)) {
    const key = state.key(username);
    // A key from another Region, or one that has not propagated yet, does not authenticate.
    if (!key || key.region !== region || !sameSecret(password, key.secretDigest) || state.nowMs() < key.activeAt) {
      throw unauthenticated();
    }
    const account = state.account(key.accountSid);
    if (!account) throw unauthenticated();
    requireActive(account, state, behaviour);
    return { kind: "key", accountSid: key.accountSid, region, key };
  }
  throw unauthenticated();
}

/**
 * The account a request claims to be from, before any secret is checked: what the rate limiter counts
 * against (Twilio limits each account's concurrent requests). Undefined when no account can be named.
 */
export function claimedAccount(header: string | undefined, state: EmulatorState): string | undefined {
  const username = parseBasic(header)?.username;
  if (username === undefined) return undefined;
  if (KEY_SID.test(username)) return state.key(username)?.accountSid;
  if (!ACCOUNT_SID.test(username)) return undefined;
  return state.account(username)?.sid ?? state.accountByTestSid(username)?.sid;
}

/** Refuses a credential that may not call this kind of endpoint at all. */
export function authorize(principal: Principal, route: RouteAccess): void {
  if (principal.kind === "test-credentials") {
    if (!route.testCredentials) throw testCredentialsForbidden();
    return;
  }
  if (principal.kind === "auth-token") return;
  const { key } = principal;
  if (key.type === "main") return;
  const { access } = route;
  if (access.kind === "account-admin") throw unauthenticated();
  if (key.type === "restricted" && !(key.policy && allows(key.policy, access.permission))) throw unauthenticated();
}

/**
 * Refuses acting on an account the credential may not reach. Its own account always; a subaccount only
 * with the parent's auth token, or Main key (see the behaviour), and only on api v2010 unless the
 * behaviour widens it; test credentials only their own test account ("Using Test Credentials to access
 * your Live Account" is a 20003 cause, https://www.twilio.com/docs/errors/20003).
 */
export function requireScope(
  principal: Principal,
  targetAccountSid: string,
  route: RouteAccess,
  state: EmulatorState,
  behaviour: EmulatorBehaviour,
): void {
  if (principal.kind === "test-credentials") {
    if (targetAccountSid !== principal.testAccountSid) throw unauthenticated();
    return;
  }
  const relation = state.relationship(principal.accountSid, targetAccountSid);
  if (relation === "self") return;
  if (relation === "parent" && parentMayReach(principal, route, behaviour)) return;
  throw unauthenticated();
}

function parentMayReach(principal: Principal, route: RouteAccess, behaviour: EmulatorBehaviour): boolean {
  if (route.spec !== "api" && !behaviour.parentCredentialsBeyondV2010) return false;
  if (principal.kind === "auth-token") return true;
  return principal.kind === "key" && principal.key.type === "main" && behaviour.parentMainKeysOnSubaccounts;
}

function requireActive(account: AccountRecord, state: EmulatorState, behaviour: EmulatorBehaviour): void {
  if (state.effectiveStatus(account) === "active") return;
  throw behaviour.inactiveAccount === "20005" ? accountNotActive() : unauthenticated();
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
