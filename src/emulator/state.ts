/**
 * The emulator's in-memory Twilio: accounts (one main account and its subaccounts), their auth tokens,
 * test credentials and API keys. It knows Twilio's rules about these objects (one level of subaccounts, a
 * closed account stays closed, promotion replaces the primary token at once, credentials belong to one
 * Region) but nothing about HTTP.
 *
 * Key secrets are kept only as digests: the emulator must compare them, never show them again. Auth tokens
 * are kept as they are because Twilio returns them in the Account resource; their digests are kept beside
 * them so authenticating costs one hash.
 *
 * Fleets of thousands of subaccounts stay cheap: subaccounts and keys are indexed by owner, so no request
 * scans every account or every key.
 */
import { badParameter, TwilioError } from "./errors.js";
import {
  defaultSubaccountName,
  digest,
  fingerprintOf,
  iso8601,
  newAuthToken,
  newKeySecret,
  newSid,
  wholeSeconds,
} from "./format.js";
import type { KeyPolicy } from "./policy.js";
import { DEFAULT_REGION } from "./region.js";

export type AccountStatus = "active" | "suspended" | "closed";
export type KeyType = "main" | "standard" | "restricted";

/** Twilio's default limit of subaccounts per account (error 21480 beyond it); support can raise it. */
export const SUBACCOUNT_LIMIT = 1000;

/** Error 21480, past the subaccount limit. */
export function subaccountLimitReached(): TwilioError {
  return new TwilioError(400, 21480, "Unable to create record: Reached the maximum number of subaccounts");
}

export interface TokenRecord {
  readonly value: string;
  readonly digest: Buffer;
  readonly dateCreated: Date;
}

/** An account's auth tokens in one Region: Twilio gives every account its own in each Region. */
export interface RegionalTokens {
  primary: TokenRecord;
  secondary: TokenRecord | undefined;
}

/** Twilio's test credentials: their own Account SID and Auth Token, valid on a few test endpoints only. */
export interface TestCredentialsRecord {
  readonly accountSid: string;
  readonly token: TokenRecord;
}

export interface AccountRecord {
  readonly sid: string;
  friendlyName: string;
  status: AccountStatus;
  /** The parent account; a main account is its own owner, as in Twilio's `owner_account_sid`. */
  readonly ownerAccountSid: string;
  readonly dateCreated: Date;
  dateUpdated: Date;
  /** Auth tokens by Region, one entry for each Region the emulator holds. */
  readonly tokens: Map<string, RegionalTokens>;
  /** Made on first request for them (most accounts of a fleet never need any). */
  test: TestCredentialsRecord | undefined;
  /** Creation order across accounts and keys: lists and snapshots are ordered by it. */
  readonly seq: number;
}

export interface KeyRecord {
  readonly sid: string;
  readonly accountSid: string;
  /** The Region the key was created in, the only one where it authenticates. */
  readonly region: string;
  friendlyName: string;
  readonly type: KeyType;
  readonly secretDigest: Buffer;
  policy: KeyPolicy | undefined;
  readonly dateCreated: Date;
  dateUpdated: Date;
  /** Epoch milliseconds from which the key authenticates (see the key-activation-delay fault). */
  readonly activeAt: number;
  readonly seq: number;
}

interface TokenView {
  fingerprint: string;
  dateCreated: string;
}

/** Secret-free, deterministic picture of all state: equal snapshots mean nothing changed. */
export interface EmulatorSnapshot {
  accounts: Array<{
    sid: string;
    friendlyName: string;
    status: AccountStatus;
    /** null for the main account. */
    ownerAccountSid: string | null;
    dateCreated: string;
    dateUpdated: string;
    /** The primary token in US1; dateCreated is when its value was made (a promoted token keeps its own). */
    authToken: TokenView;
    /** null when the account has no secondary token in US1 (nothing left over from a rotation). */
    secondaryAuthToken: TokenView | null;
    /** The same for every other Region the emulator holds, by Region name. */
    regionalAuthTokens: Record<string, { authToken: TokenView; secondaryAuthToken: TokenView | null }>;
    /** The test Account SID and a fingerprint of the test token, once test credentials were asked for. */
    testCredentials: { accountSid: string; authToken: TokenView } | null;
    subaccountSids: string[];
  }>;
  keys: Array<{
    sid: string;
    accountSid: string;
    region: string;
    friendlyName: string;
    type: KeyType;
    dateCreated: string;
    dateUpdated: string;
    policy: KeyPolicy | null;
  }>;
}

export interface NewKey {
  type: KeyType;
  friendlyName: string;
  policy?: KeyPolicy | undefined;
  activationDelayMs?: number;
  /** Default US1. */
  region?: string;
}

export interface StateOptions {
  accountSid: string;
  /** The main account's primary token in US1; its tokens in other Regions are made up. */
  authToken: string;
  /** Regions whose credentials every account holds; default US1 only. Must include us1. */
  regions?: readonly string[];
  subaccountLimit?: number;
  /** Told every secret the emulator hands out, from the first (the main account's other Regions' tokens). */
  onSecretIssued?: ((secret: string) => void) | undefined;
}

export class EmulatorState {
  readonly mainAccountSid: string;
  readonly regions: readonly string[];
  readonly subaccountLimit: number;
  readonly #accounts = new Map<string, AccountRecord>();
  /** Subaccounts by owner, in creation order. */
  readonly #children = new Map<string, AccountRecord[]>();
  readonly #keys = new Map<string, KeyRecord>();
  /** Keys by account, in creation order (a Map keeps insertion order). */
  readonly #keysByAccount = new Map<string, Map<string, KeyRecord>>();
  readonly #testSids = new Map<string, AccountRecord>();
  readonly #clock: () => number;
  #seq = 0;
  /** Told every secret the emulator hands out, so tests can scan output for all of them. */
  onSecretIssued: ((secret: string) => void) | undefined;
  /** Told each time a primary token is replaced (promote or reset): webhook signing follows it with a lag. */
  onPrimaryReplaced: ((accountSid: string, region: string, previous: TokenRecord) => void) | undefined;

  #issued(secret: string): string {
    this.onSecretIssued?.(secret);
    return secret;
  }

  constructor(main: StateOptions, clock: () => number = Date.now) {
    this.#clock = clock;
    this.onSecretIssued = main.onSecretIssued;
    this.mainAccountSid = main.accountSid;
    this.regions = [...new Set(main.regions ?? [DEFAULT_REGION])];
    if (!this.regions.includes(DEFAULT_REGION)) throw new Error("twilio emulator: regions must include us1");
    this.subaccountLimit = main.subaccountLimit ?? SUBACCOUNT_LIMIT;
    const now = this.now();
    this.#insert({
      sid: main.accountSid,
      friendlyName: "My first Twilio account",
      status: "active",
      ownerAccountSid: main.accountSid,
      dateCreated: now,
      dateUpdated: now,
      tokens: this.#newTokens(now, main.authToken),
      test: undefined,
      seq: this.#seq++,
    });
  }

  /** The current time to the second, as Twilio records it. */
  now(): Date {
    return wholeSeconds(this.#clock());
  }

  nowMs(): number {
    return this.#clock();
  }

  account(sid: string): AccountRecord | undefined {
    return this.#accounts.get(sid);
  }

  /** The live account whose test credentials carry this test Account SID. */
  accountByTestSid(testSid: string): AccountRecord | undefined {
    return this.#testSids.get(testSid);
  }

  /** The account itself, then its subaccounts, in creation order (what GET /Accounts.json lists). */
  accountAndSubaccounts(sid: string): AccountRecord[] {
    const account = this.#accounts.get(sid);
    return account ? [account, ...this.subaccounts(sid)] : [];
  }

  subaccounts(ownerSid: string): readonly AccountRecord[] {
    return this.#children.get(ownerSid) ?? [];
  }

  isMain(account: AccountRecord): boolean {
    return account.ownerAccountSid === account.sid;
  }

  /**
   * An account's own status, or its parent's when the parent is not active: "If your main Twilio account
   * is ever suspended, your subaccounts will also be suspended" (https://www.twilio.com/docs/iam/api/subaccounts).
   */
  effectiveStatus(account: AccountRecord): AccountStatus {
    if (account.status !== "active" || this.isMain(account)) return account.status;
    return this.#accounts.get(account.ownerAccountSid)?.status ?? "closed";
  }

  /** How the actor relates to the target account: itself, its parent, or neither (undefined). */
  relationship(actorSid: string, targetSid: string): "self" | "parent" | undefined {
    const target = this.#accounts.get(targetSid);
    if (target === undefined) return undefined;
    if (target.sid === actorSid) return "self";
    return target.ownerAccountSid === actorSid ? "parent" : undefined;
  }

  /** An account may act on itself and on its subaccounts, never on its parent or siblings. */
  canActOn(actorSid: string, targetSid: string): boolean {
    return this.relationship(actorSid, targetSid) !== undefined;
  }

  createSubaccount(ownerSid: string, friendlyName: string | undefined): AccountRecord {
    const owner = this.#require(ownerSid);
    // Twilio keeps one level of subaccounts. The exact error for a nested create is not documented.
    if (!this.isMain(owner)) throw new TwilioError(403, 20403, "Subaccounts cannot create subaccounts");
    if (this.subaccounts(ownerSid).length >= this.subaccountLimit) throw subaccountLimitReached();
    const now = this.now();
    return this.#insert({
      sid: newSid("AC"),
      friendlyName: friendlyName ?? defaultSubaccountName(now),
      status: "active",
      ownerAccountSid: ownerSid,
      dateCreated: now,
      dateUpdated: now,
      tokens: this.#newTokens(now),
      test: undefined,
      seq: this.#seq++,
    });
  }

  /** Status and name changes through the API: Twilio lets only subaccounts change status. */
  updateAccount(
    sid: string,
    changes: { friendlyName?: string | undefined; status?: AccountStatus | undefined },
  ): AccountRecord {
    const account = this.#require(sid);
    if (changes.status !== undefined && changes.status !== account.status && this.isMain(account)) {
      throw badParameter("Status can only be changed on a subaccount");
    }
    return this.setStatus(sid, changes.status, changes.friendlyName);
  }

  /** Any account's status, as Twilio itself changes it (billing, abuse); a closed account stays closed. */
  setStatus(sid: string, status: AccountStatus | undefined, friendlyName?: string): AccountRecord {
    const account = this.#require(sid);
    if (status !== undefined && status !== account.status) {
      if (account.status === "closed") throw badParameter("A closed account cannot be reopened");
      account.status = status;
    }
    if (friendlyName !== undefined) account.friendlyName = friendlyName;
    account.dateUpdated = this.now();
    return account;
  }

  /** An account's tokens in a Region, or undefined for a Region the emulator does not hold. */
  tokens(accountSid: string, region: string = DEFAULT_REGION): RegionalTokens | undefined {
    return this.#accounts.get(accountSid)?.tokens.get(region);
  }

  /** The account's test credentials, made on first request. */
  testCredentials(accountSid: string): TestCredentialsRecord {
    const account = this.#require(accountSid);
    if (!account.test) {
      account.test = { accountSid: newSid("AC"), token: this.#token(this.#issued(newAuthToken()), this.now()) };
      this.#testSids.set(account.test.accountSid, account);
    }
    return account.test;
  }

  key(sid: string): KeyRecord | undefined {
    return this.#keys.get(sid);
  }

  /** An account's keys in creation order; only those of one Region when `region` is given. */
  keys(accountSid: string, region?: string): KeyRecord[] {
    const keys = [...(this.#keysByAccount.get(accountSid)?.values() ?? [])];
    return region === undefined ? keys : keys.filter((k) => k.region === region);
  }

  createKey(accountSid: string, spec: NewKey): { key: KeyRecord; secret: string } {
    this.#require(accountSid);
    const region = spec.region ?? DEFAULT_REGION;
    if (!this.regions.includes(region)) throw new Error(`twilio emulator: the emulator holds no region ${region}`);
    const now = this.now();
    const secret = this.#issued(newKeySecret());
    const key: KeyRecord = {
      sid: newSid("SK"),
      accountSid,
      region,
      friendlyName: spec.friendlyName,
      type: spec.type,
      secretDigest: digest(secret),
      policy: spec.policy,
      dateCreated: now,
      dateUpdated: now,
      activeAt: this.#clock() + (spec.activationDelayMs ?? 0),
      seq: this.#seq++,
    };
    this.#keys.set(key.sid, key);
    const own = this.#keysByAccount.get(accountSid);
    if (own) own.set(key.sid, key);
    else this.#keysByAccount.set(accountSid, new Map([[key.sid, key]]));
    return { key, secret };
  }

  updateKey(sid: string, changes: { friendlyName?: string | undefined; policy?: KeyPolicy | undefined }): KeyRecord {
    const key = this.#keys.get(sid);
    if (!key) throw new Error(`twilio emulator: no key ${sid}`);
    if (changes.friendlyName !== undefined) key.friendlyName = changes.friendlyName;
    if (changes.policy !== undefined) key.policy = changes.policy;
    key.dateUpdated = this.now();
    return key;
  }

  deleteKey(sid: string): boolean {
    const key = this.#keys.get(sid);
    if (!key) return false;
    this.#keysByAccount.get(key.accountSid)?.delete(sid);
    return this.#keys.delete(sid);
  }

  /** Creates (or replaces) the secondary token; from now on both tokens authenticate. */
  createSecondaryToken(accountSid: string, region: string = DEFAULT_REGION): TokenRecord {
    const tokens = this.#requireTokens(accountSid, region);
    tokens.secondary = this.#token(this.#issued(newAuthToken()), this.now());
    return tokens.secondary;
  }

  deleteSecondaryToken(accountSid: string, region: string = DEFAULT_REGION): boolean {
    const tokens = this.#requireTokens(accountSid, region);
    const had = tokens.secondary !== undefined;
    tokens.secondary = undefined;
    return had;
  }

  /** The secondary becomes the primary; the old primary stops authenticating at once. */
  promoteSecondaryToken(accountSid: string, region: string = DEFAULT_REGION): TokenRecord | undefined {
    const tokens = this.#requireTokens(accountSid, region);
    const secondary = tokens.secondary;
    if (!secondary) return undefined;
    const previous = tokens.primary;
    tokens.primary = secondary;
    tokens.secondary = undefined;
    this.onPrimaryReplaced?.(accountSid, region, previous);
    return secondary;
  }

  /**
   * Replaces the primary token with a new value, as Twilio does when it resets a compromised token: the
   * old primary dies at once; a secondary, if any, is left as it was.
   */
  rotatePrimaryToken(accountSid: string, region: string = DEFAULT_REGION): TokenRecord {
    const tokens = this.#requireTokens(accountSid, region);
    const previous = tokens.primary;
    tokens.primary = this.#token(this.#issued(newAuthToken()), this.now());
    this.onPrimaryReplaced?.(accountSid, region, previous);
    return tokens.primary;
  }

  snapshot(): EmulatorSnapshot {
    const accounts = [...this.#accounts.values()].sort((a, b) => a.seq - b.seq);
    const keys = [...this.#keys.values()].sort((a, b) => a.seq - b.seq);
    const token = (t: TokenRecord): TokenView => ({
      fingerprint: fingerprintOf(t.digest),
      dateCreated: iso8601(t.dateCreated),
    });
    return {
      accounts: accounts.map((a) => {
        const us1 = a.tokens.get(DEFAULT_REGION) as RegionalTokens;
        const regional: EmulatorSnapshot["accounts"][number]["regionalAuthTokens"] = {};
        for (const [region, t] of a.tokens) {
          if (region === DEFAULT_REGION) continue;
          regional[region] = {
            authToken: token(t.primary),
            secondaryAuthToken: t.secondary ? token(t.secondary) : null,
          };
        }
        return {
          sid: a.sid,
          friendlyName: a.friendlyName,
          status: a.status,
          ownerAccountSid: this.isMain(a) ? null : a.ownerAccountSid,
          dateCreated: iso8601(a.dateCreated),
          dateUpdated: iso8601(a.dateUpdated),
          authToken: token(us1.primary),
          secondaryAuthToken: us1.secondary ? token(us1.secondary) : null,
          regionalAuthTokens: regional,
          testCredentials: a.test ? { accountSid: a.test.accountSid, authToken: token(a.test.token) } : null,
          subaccountSids: this.subaccounts(a.sid).map((s) => s.sid),
        };
      }),
      keys: keys.map((k) => ({
        sid: k.sid,
        accountSid: k.accountSid,
        region: k.region,
        friendlyName: k.friendlyName,
        type: k.type,
        dateCreated: iso8601(k.dateCreated),
        dateUpdated: iso8601(k.dateUpdated),
        policy: k.policy ? { allow: [...k.policy.allow] } : null,
      })),
    };
  }

  #insert(account: AccountRecord): AccountRecord {
    this.#accounts.set(account.sid, account);
    if (!this.isMain(account)) {
      const siblings = this.#children.get(account.ownerAccountSid);
      if (siblings) siblings.push(account);
      else this.#children.set(account.ownerAccountSid, [account]);
    }
    return account;
  }

  /** A primary token in every Region held; `us1Token` is the one the caller chose for US1. */
  #newTokens(now: Date, us1Token?: string): Map<string, RegionalTokens> {
    const tokens = new Map<string, RegionalTokens>();
    for (const region of this.regions) {
      const value = region === DEFAULT_REGION && us1Token !== undefined ? us1Token : this.#issued(newAuthToken());
      tokens.set(region, { primary: this.#token(value, now), secondary: undefined });
    }
    return tokens;
  }

  #token(value: string, dateCreated: Date): TokenRecord {
    return { value, digest: digest(value), dateCreated };
  }

  #require(sid: string): AccountRecord {
    const account = this.#accounts.get(sid);
    if (!account) throw new Error(`twilio emulator: no account ${sid}`);
    return account;
  }

  #requireTokens(accountSid: string, region: string): RegionalTokens {
    const tokens = this.#require(accountSid).tokens.get(region);
    if (!tokens) throw new Error(`twilio emulator: the emulator holds no region ${region}`);
    return tokens;
  }
}
