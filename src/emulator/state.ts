/**
 * The emulator's in-memory Twilio: accounts (one main account and its subaccounts), their auth tokens and
 * their API keys. It knows Twilio's rules about these objects (one level of subaccounts, a closed account
 * stays closed, promotion replaces the primary token at once) but nothing about HTTP.
 *
 * Key secrets are kept only as digests: the emulator must compare them, never show them again. Auth tokens
 * are kept as they are because Twilio returns them in the Account resource.
 */
import { badParameter, TwilioError } from "./errors.js";
import {
  defaultSubaccountName,
  digest,
  fingerprint,
  iso8601,
  newAuthToken,
  newKeySecret,
  newSid,
  wholeSeconds,
} from "./format.js";
import type { KeyPolicy } from "./policy.js";

export type AccountStatus = "active" | "suspended" | "closed";
export type KeyType = "main" | "standard" | "restricted";

/** Twilio's default limit of subaccounts per account (error 21480 beyond it). */
export const SUBACCOUNT_LIMIT = 1000;

export interface TokenRecord {
  readonly value: string;
  readonly dateCreated: Date;
}

export interface AccountRecord {
  readonly sid: string;
  friendlyName: string;
  status: AccountStatus;
  /** The parent account; a main account is its own owner, as in Twilio's `owner_account_sid`. */
  readonly ownerAccountSid: string;
  readonly dateCreated: Date;
  dateUpdated: Date;
  authToken: TokenRecord;
  secondaryAuthToken: TokenRecord | undefined;
  /** Creation order across accounts and keys: lists and snapshots are ordered by it. */
  readonly seq: number;
}

export interface KeyRecord {
  readonly sid: string;
  readonly accountSid: string;
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
    authToken: { fingerprint: string; dateCreated: string };
    secondaryAuthToken: { fingerprint: string; dateCreated: string } | null;
    subaccountSids: string[];
  }>;
  keys: Array<{
    sid: string;
    accountSid: string;
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
}

export class EmulatorState {
  readonly mainAccountSid: string;
  readonly #accounts = new Map<string, AccountRecord>();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #clock: () => number;
  #seq = 0;
  /** Told every secret the emulator hands out, so tests can scan output for all of them. */
  onSecretIssued: ((secret: string) => void) | undefined;

  #issued(secret: string): string {
    this.onSecretIssued?.(secret);
    return secret;
  }

  constructor(main: { accountSid: string; authToken: string }, clock: () => number = Date.now) {
    this.#clock = clock;
    this.mainAccountSid = main.accountSid;
    const now = this.now();
    this.#accounts.set(main.accountSid, {
      sid: main.accountSid,
      friendlyName: "My first Twilio account",
      status: "active",
      ownerAccountSid: main.accountSid,
      dateCreated: now,
      dateUpdated: now,
      authToken: { value: main.authToken, dateCreated: now },
      secondaryAuthToken: undefined,
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

  /** The account itself, then its subaccounts, in creation order (what GET /Accounts.json lists). */
  accountAndSubaccounts(sid: string): AccountRecord[] {
    return [...this.#accounts.values()].filter((a) => a.sid === sid || (a.ownerAccountSid === sid && a.sid !== sid));
  }

  subaccounts(ownerSid: string): AccountRecord[] {
    return [...this.#accounts.values()].filter((a) => a.ownerAccountSid === ownerSid && a.sid !== ownerSid);
  }

  isMain(account: AccountRecord): boolean {
    return account.ownerAccountSid === account.sid;
  }

  /** An account may act on itself and on its subaccounts, never on its parent or siblings. */
  canActOn(actorSid: string, targetSid: string): boolean {
    const target = this.#accounts.get(targetSid);
    return target !== undefined && (target.sid === actorSid || target.ownerAccountSid === actorSid);
  }

  createSubaccount(ownerSid: string, friendlyName: string | undefined): AccountRecord {
    const owner = this.#require(ownerSid);
    // Twilio keeps one level of subaccounts. The exact error for a nested create is not documented.
    if (!this.isMain(owner)) throw new TwilioError(403, 20403, "Subaccounts cannot create subaccounts");
    if (this.subaccounts(ownerSid).length >= SUBACCOUNT_LIMIT) {
      throw new TwilioError(400, 21480, "Unable to create record: Reached the maximum number of subaccounts");
    }
    const now = this.now();
    const account: AccountRecord = {
      sid: newSid("AC"),
      friendlyName: friendlyName ?? defaultSubaccountName(now),
      status: "active",
      ownerAccountSid: ownerSid,
      dateCreated: now,
      dateUpdated: now,
      authToken: { value: this.#issued(newAuthToken()), dateCreated: now },
      secondaryAuthToken: undefined,
      seq: this.#seq++,
    };
    this.#accounts.set(account.sid, account);
    return account;
  }

  updateAccount(
    sid: string,
    changes: { friendlyName?: string | undefined; status?: AccountStatus | undefined },
  ): AccountRecord {
    const account = this.#require(sid);
    if (changes.status !== undefined && changes.status !== account.status) {
      if (this.isMain(account)) throw badParameter("Status can only be changed on a subaccount");
      if (account.status === "closed") throw badParameter("A closed account cannot be reopened");
      account.status = changes.status;
    }
    if (changes.friendlyName !== undefined) account.friendlyName = changes.friendlyName;
    account.dateUpdated = this.now();
    return account;
  }

  key(sid: string): KeyRecord | undefined {
    return this.#keys.get(sid);
  }

  keys(accountSid: string): KeyRecord[] {
    return [...this.#keys.values()].filter((k) => k.accountSid === accountSid);
  }

  createKey(accountSid: string, spec: NewKey): { key: KeyRecord; secret: string } {
    this.#require(accountSid);
    const now = this.now();
    const secret = this.#issued(newKeySecret());
    const key: KeyRecord = {
      sid: newSid("SK"),
      accountSid,
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
    return this.#keys.delete(sid);
  }

  /** Creates (or replaces) the secondary token; from now on both tokens authenticate. */
  createSecondaryToken(accountSid: string): TokenRecord {
    const account = this.#require(accountSid);
    account.secondaryAuthToken = { value: this.#issued(newAuthToken()), dateCreated: this.now() };
    return account.secondaryAuthToken;
  }

  deleteSecondaryToken(accountSid: string): boolean {
    const account = this.#require(accountSid);
    const had = account.secondaryAuthToken !== undefined;
    account.secondaryAuthToken = undefined;
    return had;
  }

  /** The secondary becomes the primary; the old primary stops authenticating at once. */
  promoteSecondaryToken(accountSid: string): TokenRecord | undefined {
    const account = this.#require(accountSid);
    const secondary = account.secondaryAuthToken;
    if (!secondary) return undefined;
    account.authToken = secondary;
    account.secondaryAuthToken = undefined;
    return secondary;
  }

  snapshot(): EmulatorSnapshot {
    const accounts = [...this.#accounts.values()].sort((a, b) => a.seq - b.seq);
    const keys = [...this.#keys.values()].sort((a, b) => a.seq - b.seq);
    const token = (t: TokenRecord) => ({ fingerprint: fingerprint(t.value), dateCreated: iso8601(t.dateCreated) });
    return {
      accounts: accounts.map((a) => ({
        sid: a.sid,
        friendlyName: a.friendlyName,
        status: a.status,
        ownerAccountSid: this.isMain(a) ? null : a.ownerAccountSid,
        dateCreated: iso8601(a.dateCreated),
        dateUpdated: iso8601(a.dateUpdated),
        authToken: token(a.authToken),
        secondaryAuthToken: a.secondaryAuthToken ? token(a.secondaryAuthToken) : null,
        subaccountSids: this.subaccounts(a.sid).map((s) => s.sid),
      })),
      keys: keys.map((k) => ({
        sid: k.sid,
        accountSid: k.accountSid,
        friendlyName: k.friendlyName,
        type: k.type,
        dateCreated: iso8601(k.dateCreated),
        dateUpdated: iso8601(k.dateUpdated),
        policy: k.policy ? { allow: [...k.policy.allow] } : null,
      })),
    };
  }

  #require(sid: string): AccountRecord {
    const account = this.#accounts.get(sid);
    if (!account) throw new Error(`twilio emulator: no account ${sid}`);
    return account;
  }
}
