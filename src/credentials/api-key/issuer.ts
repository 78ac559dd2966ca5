/**
 * API-key issuer: standard keys through the 2010 API (the same one the Console uses), restricted keys
 * through IAM v1 (the only API that makes them). The admin credential is the Auth Token or a Main key,
 * because a Standard key may not manage keys (Twilio answers 20003).
 */
import type { StoredCredential } from "../../../providers/contract.js";
import {
  createTwilioClient,
  isTwilioApiError,
  isUnreadableResponse,
  keyAuthenticates,
  type RequestThrottle,
  type TwilioClient,
} from "../../twilio/client.js";
import type { AdminCredentialShape } from "../../twilio/diagnose.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withTwilioRetry } from "../../twilio/retry.js";
import { v2010Keys } from "../../twilio/v2010-keys.js";
import { maskSid } from "../../util/mask.js";
import { adminCheckFailure } from "../admin-check.js";
import type { CredentialInfo, IssuedCredential, Issuer, IssuerPreflight, VerifyOutcome } from "../issuer.js";
import { is20003, untilAuthenticates, untilRefused } from "../polling.js";
import { apiKeyOf, isApiKey } from "./credential.js";
import { API_KEY_LABELS } from "./labels.js";

export interface ApiKeyIssuerOptions {
  admin: AdminCredentialShape;
  baseUrl?: string | undefined;
  keyType: "standard" | "restricted";
  /** IAM v1 policy for restricted keys, e.g. `{ allow: ["/twilio/messaging/messages/read"] }`. */
  policy?: unknown;
  friendlyNamePrefix: string;
  /** A GET path the new key may call to prove it authenticates; `{AccountSid}` is filled in. */
  verifyPath: string;
  /** How long a new key may take to start authenticating (Twilio does not document propagation). */
  propagationTimeoutMs: number;
  /** How long a deleted key may keep authenticating before we say so. */
  revokeConfirmTimeoutMs: number;
  /** How long one Twilio request may go unanswered (`twilio.timeoutSeconds`). */
  requestTimeoutMs?: number;
  retry?: RetryPolicy;
  onRetry?: (what: string, error: Error, attempt: number) => void;
  /** Paces every request with other issuers' (a fleet). */
  throttle?: RequestThrottle;
}

/** The default verify path (config/schema.ts): a GET every Standard key may make. */
const DEFAULT_VERIFY_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1";

/** Paths on api.twilio.com that only the Auth Token and Main keys may call (twilio-api.md, "Who may do what"). */
const MAIN_CREDENTIAL_ONLY = [
  /^\/2010-04-01\/Accounts(?:\.json)?\/?$/,
  /^\/2010-04-01\/Accounts\/[^/]+(?:\.json)?\/?$/,
  /^\/2010-04-01\/Accounts\/[^/]+\/(?:Keys|SigningKeys)(?:\.json|\/.*)?$/,
];

/** Creates whose answer could not be read, before the run gives up (each one's key is deleted first). */
const UNREADABLE_CREATE_ATTEMPTS = 3;

export class ApiKeyIssuer implements Issuer {
  readonly kind = "api-key" as const;
  readonly labels = API_KEY_LABELS;
  readonly revokeEvenWhenOldIsDead = false;
  readonly #options: ApiKeyIssuerOptions;
  readonly #admin: TwilioClient;
  /** The account and Standard keys on the 2010 API (v2010-keys.ts: without loading its resource tree). */
  readonly #keys: ReturnType<typeof v2010Keys>;
  readonly #accountSid: string;

  constructor(options: ApiKeyIssuerOptions) {
    this.#options = options;
    this.#accountSid = options.admin.accountSid;
    this.#admin = createTwilioClient({
      accountSid: options.admin.accountSid,
      username: options.admin.username,
      password: options.admin.password,
      baseUrl: options.baseUrl,
      throttle: options.throttle,
      timeoutMs: options.requestTimeoutMs,
    });
    this.#keys = v2010Keys(this.#admin, this.#accountSid);
  }

  describeCreate(): string {
    const kind = this.#options.keyType === "restricted" ? "restricted (IAM v1)" : "standard";
    return `create a ${kind} API key named "${this.#options.friendlyNamePrefix}-<run id>"`;
  }

  describeCreating(runId: string): string {
    return `creating a new API key "${this.friendlyNameFor(runId)}"`;
  }

  describeRevoking(oldMasked: string): string {
    return `revoking the old key ${oldMasked}`;
  }

  describeRevoke(oldMasked: string): string {
    return `revoke the old key ${oldMasked} and confirm Twilio refuses it (20003)`;
  }

  friendlyNameFor(runId: string): string {
    return `${this.#options.friendlyNamePrefix}-${runId}`.slice(0, 64);
  }

  #retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return withTwilioRetry(operation, this.#options.retry ?? DEFAULT_RETRY_POLICY, (error, attempt) =>
      this.#options.onRetry?.(what, error, attempt),
    );
  }

  async checkAdmin(): Promise<void> {
    try {
      await this.#retry("fetch account", () => this.#keys.fetchAccount());
    } catch (error) {
      throw adminCheckFailure(error, this.#options.admin, this.#accountSid);
    }
  }

  async preflight(): Promise<IssuerPreflight> {
    // Nothing an API key rotation needs beyond the admin check, the stores and checkCanVerify.
    return { problems: [], notes: [] };
  }

  async describe(id: string): Promise<CredentialInfo | undefined> {
    try {
      const key =
        this.#options.keyType === "restricted"
          ? await this.#retry("fetch key", () => this.#admin.iam.v1.apiKey(id).fetch())
          : await this.#retry("fetch key", () => this.#keys.fetchKey(id));
      return { id: key.sid, friendlyName: key.friendlyName, createdAt: key.dateCreated };
    } catch (error) {
      if (isTwilioApiError(error) && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Create the key. Creating is not idempotent: a retry after a lost response can leave an extra key, which
   * the run's orphan search (by friendly name) finds and deletes. A 2xx whose body cannot be read did create a
   * key, whose secret is lost with the body: such keys are looked up by this run's name and deleted before
   * creating again, so an unreadable answer never piles up keys.
   */
  async issue(runId: string): Promise<IssuedCredential> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#createOnce(runId);
      } catch (error) {
        if (!isUnreadableResponse(error) || attempt >= UNREADABLE_CREATE_ATTEMPTS) throw error;
        for (const id of await this.findCreatedBy(runId)) await this.#delete(id);
        this.#options.onRetry?.("create key", error, attempt);
      }
    }
  }

  async #createOnce(runId: string): Promise<IssuedCredential> {
    const friendlyName = this.friendlyNameFor(runId);
    if (this.#options.keyType === "restricted") {
      const key = await this.#retry("create key", () =>
        this.#admin.iam.v1.newApiKey.create({
          accountSid: this.#accountSid,
          friendlyName,
          keyType: "restricted",
          policy: this.#options.policy as object,
        }),
      );
      return this.#issued(key.sid, key.secret, key.dateCreated);
    }
    const key = await this.#retry("create key", () => this.#keys.createKey(friendlyName));
    return this.#issued(key.sid, key.secret, key.dateCreated);
  }

  #issued(sid: string, secret: string, createdAt: Date): IssuedCredential {
    return {
      id: sid,
      credential: { kind: "api-key", accountSid: this.#accountSid, apiKeySid: sid, apiKeySecret: secret },
      createdAt,
    };
  }

  /** One authenticated GET with the given key; throws TwilioApiError on refusal. */
  async #callAs(stored: StoredCredential): Promise<void> {
    const credential = apiKeyOf(stored);
    const client = createTwilioClient({
      accountSid: credential.accountSid,
      username: credential.apiKeySid,
      password: credential.apiKeySecret,
      baseUrl: this.#options.baseUrl,
      throttle: this.#options.throttle,
      timeoutMs: this.#options.requestTimeoutMs,
    });
    const path = this.#options.verifyPath.replace("{AccountSid}", credential.accountSid);
    await client.request({ method: "get", uri: `https://api.twilio.com${path}` });
  }

  async checkCanVerify(current: StoredCredential | undefined): Promise<string | undefined> {
    const { verifyPath, keyType } = this.#options;
    const where = `credential.verifyPath ${verifyPath}`;
    if (
      keyType === "standard" &&
      MAIN_CREDENTIAL_ONLY.some((pattern) => pattern.test(verifyPath.split("?")[0] ?? ""))
    ) {
      return `${where} is an endpoint a Standard key may not call (only the Auth Token and Main keys may read accounts and keys; Twilio answers 20003), so the new key could never be verified; use one it may call, such as ${DEFAULT_VERIFY_PATH}`;
    }
    if (!isApiKey(current)) return undefined;
    try {
      await this.#callAs(current);
      return undefined;
    } catch (error) {
      if (isTwilioApiError(error) && error.status === 404) {
        return `${where} answered HTTP 404 to the current key: no such endpoint; use one that exists, such as ${DEFAULT_VERIFY_PATH}`;
      }
      if (isTwilioApiError(error) && error.status === 403) {
        return `${where} is refused (HTTP 403) to the current key, whose policy does not allow it; a new key with the same policy would be refused too. Use a path the policy allows`;
      }
      if (!is20003(error)) return undefined; // a passing fault says nothing about the path
      // Refused there: a dead key (reported elsewhere, e.g. drift or an emergency), or a path this kind of key
      // may not call. Only the second is about verifyPath.
      const elsewhere = await keyAuthenticates({
        accountSid: current.accountSid,
        keySid: current.apiKeySid,
        secret: current.apiKeySecret,
        baseUrl: this.#options.baseUrl,
        throttle: this.#options.throttle,
        timeoutMs: this.#options.requestTimeoutMs,
      }).catch(() => false);
      return elsewhere
        ? `${where} is refused (20003) to the current key, which authenticates elsewhere: a ${keyType} key may not call it, so the new key could never be verified; use one it may call, such as ${DEFAULT_VERIFY_PATH}`
        : undefined;
    }
  }

  async authenticatesNow(credential: StoredCredential): Promise<boolean> {
    try {
      await this.#callAs(credential);
      return true;
    } catch (error) {
      if (is20003(error)) return false;
      throw error;
    }
  }

  verifyAuthenticates(credential: StoredCredential): Promise<VerifyOutcome> {
    const what = `the new key ${isApiKey(credential) ? maskSid(credential.apiKeySid) : "(token)"}`;
    return untilAuthenticates(() => this.#callAs(credential), { timeoutMs: this.#options.propagationTimeoutMs, what });
  }

  describeDiscardedUnrecorded(id: string): { text: string; certain: boolean } {
    return {
      text: `deleted the new key ${maskSid(id)} (named after this run; its journal never recorded it)`,
      certain: true,
    };
  }

  /** Keys carry the run's name, so a search by name finds every key the run made, journaled or not. */
  async findCreatedBy(runId: string): Promise<string[]> {
    const friendlyName = this.friendlyNameFor(runId);
    const keys =
      this.#options.keyType === "restricted"
        ? await this.#retry("list keys", () => this.#admin.iam.v1.getApiKeys.list({ accountSid: this.#accountSid }))
        : await this.#retry("list keys", () => this.#keys.listKeys());
    return keys.filter((key) => key.friendlyName === friendlyName).map((key) => key.sid);
  }

  async #delete(id: string): Promise<"deleted" | "absent"> {
    try {
      if (this.#options.keyType === "restricted") {
        await this.#retry("delete key", () => this.#admin.iam.v1.apiKey(id).remove());
      } else {
        await this.#retry("delete key", () => this.#keys.removeKey(id));
      }
      return "deleted";
    } catch (error) {
      if (isTwilioApiError(error) && error.status === 404) return "absent";
      throw error;
    }
  }

  discard(id: string): Promise<"deleted" | "absent"> {
    return this.#delete(id);
  }

  revoke(oldId: string): Promise<"deleted" | "absent"> {
    return this.#delete(oldId);
  }

  adoptNew(): void {
    // The admin is the Auth Token or a Main key, which a key rotation never touches.
  }

  refusedBeforeCreating(): boolean {
    // A search by name finds whatever a create left, so there is no need to tell.
    return false;
  }

  confirmRefused(old: StoredCredential): Promise<boolean> {
    return untilRefused(() => this.#callAs(old), this.#options.revokeConfirmTimeoutMs);
  }
}
