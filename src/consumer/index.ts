/**
 * `rotator/consumer`: what an app embeds to be rotation-safe.
 *
 * - Loads the Twilio credential from a store through the same providers rotator writes with, and re-reads it
 *   in the background once a TTL has passed, so a rotation reaches the app within the TTL even without a
 *   reload hook. A Twilio call never waits for the store while the credential it has is good: every read
 *   after the first runs beside the calls, bounded by a deadline, and a store that is down or frozen is
 *   counted (`status().store`, `onStoreReadFailure`) while the app goes on with what it read last.
 * - When Twilio answers 20003, re-reads the store (bounded by the same deadline) and retries the call once:
 *   the store already holds the new key by the time the old one could be revoked.
 * - Exposes the status handler the `http` consumer probe reads (`{"keySid", "authenticated"}`, and how the
 *   store's reads went) and a reload handler, and a startup check that fails with a clear message on 20003.
 * - For an Auth Token store, gives the token set to validate webhooks with (`webhookValidator()`,
 *   `webhookTokens()`): the token read last and, while a rotation runs, the one it replaces; the status
 *   answer then says which (`webhookTokenFingerprints`), so rotator promotes only once every app trusts both.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
// The client's type straight from its file, as the client is made (src/twilio/client.ts): the package index's
// typings would also pull in the JWT helpers', which need @types/jsonwebtoken in an app that checks its
// libraries' declarations. Like twilio's own typings, it needs esModuleInterop in a CommonJS project.
import type TwilioClient from "twilio/lib/rest/Twilio.js";
import { type StoredCredential, type StoreProvider, tokenFingerprint } from "../../providers/contract.js";
import { MissingPackageError } from "../../providers/errors.js";
import { createStoreProvider, type StoreEntry, storeEntrySchema } from "../../providers/registry.js";
import type { CredentialTypeDefinition } from "../credentials/definition.js";
import { credentialTypeOf, definitionOf } from "../credentials/registry.js";
import { credentialId } from "../credentials/stored.js";
import { createTwilioClient, isTwilioApiError } from "../twilio/client.js";
import { sameCredential } from "../util/credentials.js";
import { redactedJson } from "../util/mask.js";
import { installHint } from "../util/optional-packages.js";
import { type StoreReadFailure, type StoreReadStatus, StoreReads, withDeadline } from "./store-reads.js";
import { TwilioWebhookValidator, type TwilioWebhookValidatorOptions } from "./webhooks.js";

export type { StoreReadFailure, StoreReadStatus } from "./store-reads.js";

export interface TwilioCredentialsOptions {
  /** A store entry, exactly as under `stores:` in a rotator config. */
  store: unknown;
  /** What the store holds. Default: api-key. */
  kind?: string;
  /**
   * How long a read of the store is trusted, in seconds. Default 60. Once it has passed, the next call still
   * goes out at once with the credential read last, and starts a re-read beside it.
   */
  ttlSeconds?: number;
  /**
   * How long one read of the store may take, in seconds, before it counts as failed. Default 10. Only the first
   * read (nothing cached yet), a reload, and the re-read after a 20003 are waited for, never longer than this.
   */
  storeTimeoutSeconds?: number;
  /** Where `{ env }` references and relative paths resolve. Defaults: process.env, process.cwd(). */
  env?: Readonly<Record<string, string | undefined>>;
  baseDir?: string;
  /** A Twilio emulator's origin (tests, sandbox). Default: Twilio. */
  twilioBaseUrl?: string;
  /**
   * A GET the credential may call, made once whenever a new credential is read (the cheapest proof that it
   * authenticates). Default: the Messages list, which a Standard key may read; a restricted key needs one
   * its policy allows. `{AccountSid}` is filled in.
   */
  checkPath?: string;
  /**
   * Called on every 20003 (HTTP 401) answer Twilio gives this app, also ones the library then recovers from by
   * re-reading the store: the seed's advice is to alert on 401s, and this is the hook for an app's own
   * monitoring. Gets masked ids only. A callback that throws is ignored: monitoring never breaks a call.
   */
  onAuthenticationFailure?: (event: AuthenticationFailure) => void;
  /**
   * Called on every failed or timed-out read of the store (the app goes on with the credential it read last,
   * when it has one). Gets the store's name and a message without secrets. A callback that throws is ignored.
   */
  onStoreReadFailure?: (event: StoreReadFailure) => void;
}

/** What `status()` and the status handler answer. */
export interface ConsumerStatus {
  /** The API key in use (API keys). */
  keySid?: string;
  /** The first 16 hex characters of the token's SHA-256 (Auth Tokens). */
  tokenFingerprint?: string;
  /** Whether Twilio accepted the credential in use on the last call made with it. */
  authenticated: boolean;
  /** How the store's reads went: a store that stopped answering shows here while the app goes on. */
  store: StoreReadStatus;
  /**
   * Once the app validates webhooks through this library: the fingerprints (as `tokenFingerprint`) of every
   * auth token it validates them with now, the current one first. Absent: the app does not validate webhooks.
   */
  webhookTokenFingerprints?: string[];
}

/** One 20003 answer, as `onAuthenticationFailure` and `authenticationFailures` report it. */
export interface AuthenticationFailure {
  /** The masked id of the credential Twilio refused: `SK…a1b2`, or the token's fingerprint masked. */
  credential: string;
  /** The masked account SID. */
  accountSid: string;
  /** Where it happened: the check made on reading a new credential, or a call made through withClient. */
  during: "check" | "call";
  at: Date;
}

/** A duration option in seconds: a positive, finite number, or the default when absent. */
function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TwilioCredentialError(`${name} must be a positive number of seconds (given: ${String(value)})`);
  }
  return value;
}

/** The credential read last and the client made for it. */
interface Cached {
  credential: StoredCredential;
  client: TwilioClient;
}

export class TwilioCredentialError extends Error {
  override readonly name = "TwilioCredentialError";
}

export class TwilioCredentials {
  /** The store's provider, loaded on first read (providers load their SDKs lazily). */
  readonly #provider: Promise<StoreProvider>;
  readonly #type: CredentialTypeDefinition;
  /** Set once the app validates webhooks through this library: the status answer then says with which tokens. */
  #validatesWebhooks = false;
  readonly #storeName: string;
  readonly #readTimeoutMs: number;
  readonly #reads: StoreReads;
  readonly #baseUrl: string | undefined;
  readonly #checkPath: string;
  #cached: Cached | undefined;
  #reading: Promise<StoredCredential> | undefined;
  /** Whether Twilio accepted the current credential on the last call made with it (the check on read, or `withClient`). */
  #authenticated = false;
  #failures = 0;
  readonly #onFailure: ((event: AuthenticationFailure) => void) | undefined;

  constructor(options: TwilioCredentialsOptions) {
    const entry: StoreEntry = storeEntrySchema.parse(options.store);
    this.#type = credentialTypeOf(options.kind ?? "api-key");
    this.#provider = createStoreProvider(entry, {
      credential: this.#type,
      baseDir: options.baseDir ?? process.cwd(),
      env: options.env ?? process.env,
    }).catch((error: unknown) => {
      if (!(error instanceof MissingPackageError)) throw error;
      throw new TwilioCredentialError(`${error.message}; ${installHint(error.packageName)}`, { cause: error });
    });
    // Reported by the first read; not an unhandled rejection before it.
    this.#provider.catch(() => undefined);
    this.#storeName = entry.name;
    this.#readTimeoutMs = seconds("storeTimeoutSeconds", options.storeTimeoutSeconds, 10) * 1000;
    this.#reads = new StoreReads(
      entry.name,
      seconds("ttlSeconds", options.ttlSeconds, 60) * 1000,
      options.onStoreReadFailure,
    );
    this.#baseUrl = options.twilioBaseUrl;
    this.#checkPath = options.checkPath ?? "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1";
    this.#onFailure = options.onAuthenticationFailure;
  }

  /**
   * How many 20003 (HTTP 401) answers Twilio has given this app since it started: a counter to export (e.g.
   * as `twilio_authentication_failures_total` with prom-client's `collect`) and alert on when it grows.
   */
  get authenticationFailures(): number {
    return this.#failures;
  }

  /** How many reads of the store failed or timed out since the app started (also in `status().store`). */
  get storeReadFailures(): number {
    return this.#reads.failures;
  }

  #refused(credential: StoredCredential, during: AuthenticationFailure["during"]): void {
    this.#failures += 1;
    if (this.#onFailure === undefined) return;
    const id = credentialId(credential);
    try {
      this.#onFailure({
        credential: `${id.slice(0, 2)}…${id.slice(-4)}`,
        accountSid: `${credential.accountSid.slice(0, 2)}…${credential.accountSid.slice(-4)}`,
        during,
        at: new Date(),
      });
    } catch {
      // An app's monitoring must never turn a Twilio answer into another error.
    }
  }

  /**
   * The credential: the one read last, at once, whenever there is one (a re-read is started beside the caller
   * once the TTL has passed); the first call waits for the first read.
   */
  async current(): Promise<StoredCredential> {
    return (await this.#entry()).credential;
  }

  async #entry(): Promise<Cached> {
    const cached = this.#cached;
    if (cached === undefined) {
      await this.refresh();
      return this.#cached!;
    }
    // Counted and reported by the read itself; the caller goes on with what it has.
    if (this.#reading === undefined && this.#reads.due()) this.refresh().catch(() => undefined);
    return cached;
  }

  /** Re-read the store now (concurrent callers share one read), within the store deadline. */
  refresh(): Promise<StoredCredential> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<StoredCredential> {
    let credential: StoredCredential;
    try {
      // Loading the provider (its SDK, on the first read) is this process's work, not the store's answer: only
      // the read is held to the deadline.
      const provider = await this.#provider;
      credential = await withDeadline(this.#readStore(provider), this.#readTimeoutMs, `store "${this.#storeName}"`);
    } catch (error) {
      this.#reads.failed(error, this.#cached !== undefined);
      throw error;
    }
    this.#reads.succeeded();
    const previous = this.#cached;
    if (previous !== undefined && sameCredential(previous.credential, credential)) return credential;
    if (previous !== undefined && sameLogin(previous.credential, credential)) {
      // Only a field Twilio never sees changed (an Auth Token's previous token, kept or retired by a rotation):
      // the client, and what Twilio last said of it, still hold.
      this.#cached = { credential, client: previous.client };
      return credential;
    }
    this.#cached = { credential, client: this.#clientFor(credential) };
    await this.#confirm(credential);
    return credential;
  }

  async #readStore(provider: StoreProvider): Promise<StoredCredential> {
    const { credential } = await provider.read();
    if (credential === undefined) {
      throw new TwilioCredentialError(`store "${provider.name}" (${provider.describe()}) holds no Twilio credential`);
    }
    return credential;
  }

  /**
   * One cheap call with a credential just read, so that `authenticated` in the status answer means "this app
   * has been accepted by Twilio with this key", not merely "this app has loaded it".
   */
  async #confirm(credential: StoredCredential): Promise<void> {
    this.#authenticated = false;
    const path = this.#checkPath.replace("{AccountSid}", credential.accountSid);
    try {
      await this.#cached!.client.request({ method: "get", uri: `https://api.twilio.com${path}` });
      if (this.#cached !== undefined && sameCredential(this.#cached.credential, credential)) this.#authenticated = true;
    } catch (error) {
      // A refusal leaves it false; a passing fault too, until the app's next call succeeds.
      if (isTwilioApiError(error) && error.status === 401) this.#refused(credential, "check");
    }
  }

  #clientFor(credential: StoredCredential): TwilioClient {
    const { username, password } = definitionOf(credential).twilioLogin(credential);
    return createTwilioClient({ accountSid: credential.accountSid, username, password, baseUrl: this.#baseUrl });
  }

  /** An official twilio client for the current credential. */
  async client(): Promise<TwilioClient> {
    return (await this.#entry()).client;
  }

  /**
   * Run a Twilio call with the current client (at once while a credential is cached, whatever the store does).
   * On 20003 the store is re-read, within the store deadline, and if it now holds another credential the call
   * is retried once with it; a store that does not answer leaves the 20003 as it was.
   */
  async withClient<T>(call: (client: TwilioClient) => Promise<T>): Promise<T> {
    const before = await this.#entry();
    try {
      return this.#accepted(before, await call(before.client));
    } catch (error) {
      if (!(isTwilioApiError(error) && error.status === 401)) throw error;
      this.#refused(before.credential, "call");
      const after = await this.refresh().catch(() => before.credential);
      if (sameCredential(after, before.credential)) {
        this.#authenticated = false;
        throw error;
      }
      const retry = this.#cached!;
      try {
        return this.#accepted(retry, await call(retry.client));
      } catch (retryError) {
        if (isTwilioApiError(retryError) && retryError.status === 401) {
          this.#authenticated = false;
          this.#refused(retry.credential, "call");
        }
        throw retryError;
      }
    }
  }

  /** A call made with `used` succeeded: `authenticated` is about the credential in use, not one replaced meanwhile. */
  #accepted<T>(used: Cached, result: T): T {
    if (this.#cached === used) this.#authenticated = true;
    return result;
  }

  /**
   * The auth tokens to validate webhooks with now: the token read last and, while the store carries it (an
   * Auth Token rotation under way), the token it replaces. Read like `current()`: at once from what was read
   * last, re-read beside the caller once the TTL has passed, and on a reload. Twilio signs every webhook with
   * the account's primary token, which the promote changes and which takes a while to propagate: an app that
   * trusts this set across a rotation rejects none. From the first call on, the status answer says which
   * tokens these are (`webhookTokenFingerprints`). An API-key store has none: a TwilioCredentialError.
   */
  async webhookTokens(): Promise<string[]> {
    this.#startValidating();
    const credential = (await this.#entry()).credential;
    if (!definitionOf(credential).accountToken) throw this.#noAuthToken();
    return webhookTokensOf(credential);
  }

  /**
   * A TwilioWebhookValidator (a node:http / Express handler) that validates with `webhookTokens()` on every
   * webhook. Make it when the app starts: from then on the status answer says which tokens it validates with,
   * which is what rotator waits for before it promotes a new token. `sharedKeys` and the other options as for
   * the validator. An API-key store: a TwilioCredentialError (webhooks are signed with the Auth Token).
   */
  webhookValidator(options: Omit<TwilioWebhookValidatorOptions, "authTokens"> = {}): TwilioWebhookValidator {
    this.#startValidating();
    return new TwilioWebhookValidator({ ...options, authTokens: () => this.webhookTokens() });
  }

  #startValidating(): void {
    if (!this.#type.accountToken) throw this.#noAuthToken();
    this.#validatesWebhooks = true;
  }

  #noAuthToken(): TwilioCredentialError {
    return new TwilioCredentialError(
      `store "${this.#storeName}" is read as holding an ${this.#type.labels.long} (kind "${this.#type.type}"), and Twilio signs webhooks with the account's Auth Token, never with an API key: to validate webhooks, read a store that holds the Auth Token (new TwilioCredentials({ store, kind: "auth-token" })), as rotator writes it with credential.type auth-token`,
    );
  }

  /** What the `http` consumer probe reads, and how the store's reads went. */
  status(): ConsumerStatus {
    const store = this.#reads.status();
    const credential = this.#cached?.credential;
    // Validating webhooks with nothing yet (no read so far) is said as such: no token is trusted.
    const webhooks = this.#validatesWebhooks
      ? {
          webhookTokenFingerprints:
            credential !== undefined && definitionOf(credential).accountToken
              ? webhookTokensOf(credential).map(tokenFingerprint)
              : [],
        }
      : {};
    if (credential === undefined) return { authenticated: false, store, ...webhooks };
    const definition = definitionOf(credential);
    return {
      [definition.consumerStatus.statusField]: definition.id(credential),
      authenticated: this.#authenticated,
      store,
      ...webhooks,
    };
  }

  /** A node:http / Express handler for the status URL (GET). */
  statusHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(redactedJson(this.status()));
    };
  }

  /** A node:http / Express handler for the reload hook (POST): re-reads the store, answers 204 (503 if it cannot). */
  reloadHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      this.refresh().then(
        () => {
          res.writeHead(204);
          res.end();
        },
        (error: unknown) => {
          res.writeHead(503, { "content-type": "application/json" });
          res.end(redactedJson({ error: (error as Error).message }));
        },
      );
    };
  }

  /** The id of the credential in use (key SID or token fingerprint), for logs. */
  async currentId(): Promise<string> {
    return credentialId(await this.current());
  }

  async close(): Promise<void> {
    await (await this.#provider.catch(() => undefined))?.close?.();
  }
}

/**
 * The tokens a stored account token validates webhooks with: the current one (what Twilio takes as its password)
 * first, then the one it replaces while the store keeps it (the type's `keepsPrevious` field).
 */
function webhookTokensOf(credential: StoredCredential): string[] {
  const definition = definitionOf(credential);
  const current = definition.twilioLogin(credential).password;
  const field = definition.keepsPrevious?.field;
  const previous = field === undefined ? undefined : credential[field];
  return previous === undefined || previous === current ? [current] : [current, previous];
}

/** Whether two credentials log in to Twilio alike (they may differ in fields Twilio never sees). */
function sameLogin(a: StoredCredential, b: StoredCredential): boolean {
  const [x, y] = [definitionOf(a).twilioLogin(a), definitionOf(b).twilioLogin(b)];
  return a.kind === b.kind && a.accountSid === b.accountSid && x.username === y.username && x.password === y.password;
}

/**
 * A startup check: one call to the cheapest endpoint the credential may call (the Messages list, which a
 * Standard key may read). Fails with a clear message on 20003 instead of at the first real request.
 */
export async function verifyTwilioCredentials(
  credentials: TwilioCredentials,
  options: { path?: string } = {},
): Promise<void> {
  const credential = await credentials.current();
  const path = (options.path ?? "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1").replace(
    "{AccountSid}",
    credential.accountSid,
  );
  try {
    await credentials.withClient((client) => client.request({ method: "get", uri: `https://api.twilio.com${path}` }));
  } catch (error) {
    if (isTwilioApiError(error) && error.status === 401) {
      // withClient may have re-read the store and retried with another credential: name the one refused last.
      const refused = await credentials.current().catch(() => credential);
      const who = definitionOf(refused).describe(refused);
      throw new TwilioCredentialError(
        `Twilio refused ${who} of account ${refused.accountSid} (HTTP 401, error 20003). Likely: the key was deleted or rotated and this store was not updated, the secret is truncated or has stray whitespace, or the key belongs to another account or region.`,
        { cause: error },
      );
    }
    throw error;
  }
}

export {
  type RejectionReason,
  type SignedWebhook,
  type TrustedSecrets,
  verifyTwilioWebhook,
  type WebhookVerdict,
} from "./webhook-signature.js";
export {
  TwilioWebhookValidator,
  type TwilioWebhookValidatorOptions,
  type WebhookParams,
  type WebhookValidationStatus,
} from "./webhooks.js";
