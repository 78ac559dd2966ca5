/**
 * `rotator/consumer`: what an app embeds to be rotation-safe.
 *
 * - Loads the Twilio credential from a store through the same providers rotator writes with, and caches it
 *   for a TTL, so a rotation reaches the app within the TTL even without a reload hook.
 * - When Twilio answers 20003, re-reads the store and retries the call once: the store already holds the
 *   new key by the time the old one could be revoked.
 * - Exposes the status handler the `http` consumer probe reads (`{"keySid", "authenticated"}`) and a reload
 *   handler, and a startup check that fails with a clear message on 20003.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { StoredCredential, StoreProvider } from "../../providers/contract.js";
import { credentialId, tokenFingerprint } from "../../providers/contract.js";
import { createStoreProvider, type StoreEntry, storeEntrySchema } from "../../providers/registry.js";
import { createTwilioClient, isTwilioApiError, type TwilioClient } from "../twilio/client.js";
import { sameCredential } from "../util/credentials.js";

export interface TwilioCredentialsOptions {
  /** A store entry, exactly as under `stores:` in a rotator config. */
  store: unknown;
  /** What the store holds. Default: api-key. */
  kind?: "api-key" | "auth-token";
  /** How long a read of the store is trusted, in seconds. Default 60. */
  ttlSeconds?: number;
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

export class TwilioCredentialError extends Error {
  override readonly name = "TwilioCredentialError";
}

export class TwilioCredentials {
  /** The store's provider, loaded on first read (providers load their SDKs lazily). */
  readonly #provider: Promise<StoreProvider>;
  readonly #ttlMs: number;
  readonly #baseUrl: string | undefined;
  readonly #checkPath: string;
  #cached: { credential: StoredCredential; readAt: number; client: TwilioClient } | undefined;
  #reading: Promise<StoredCredential> | undefined;
  /** Whether Twilio accepted the current credential on the last call made with it (the check on read, or `withClient`). */
  #authenticated = false;
  #failures = 0;
  readonly #onFailure: ((event: AuthenticationFailure) => void) | undefined;

  constructor(options: TwilioCredentialsOptions) {
    const entry: StoreEntry = storeEntrySchema.parse(options.store);
    this.#provider = createStoreProvider(entry, {
      credentialKind: options.kind ?? "api-key",
      baseDir: options.baseDir ?? process.cwd(),
      env: options.env ?? process.env,
    });
    // Reported by the first read; not an unhandled rejection before it.
    this.#provider.catch(() => undefined);
    this.#ttlMs = (options.ttlSeconds ?? 60) * 1000;
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

  /** The credential, from cache while it is fresh. */
  async current(): Promise<StoredCredential> {
    if (this.#cached !== undefined && Date.now() - this.#cached.readAt < this.#ttlMs) return this.#cached.credential;
    return this.refresh();
  }

  /** Re-read the store now (concurrent callers share one read). */
  refresh(): Promise<StoredCredential> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<StoredCredential> {
    const provider = await this.#provider;
    const { credential } = await provider.read();
    if (credential === undefined) {
      throw new TwilioCredentialError(`store "${provider.name}" (${provider.describe()}) holds no Twilio credential`);
    }
    const previous = this.#cached;
    const sameKey = previous !== undefined && sameCredential(previous.credential, credential);
    this.#cached = {
      credential,
      readAt: Date.now(),
      client: sameKey ? previous.client : this.#clientFor(credential),
    };
    if (!sameKey) await this.#confirm(credential);
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
    return credential.kind === "api-key"
      ? createTwilioClient({
          accountSid: credential.accountSid,
          username: credential.apiKeySid,
          password: credential.apiKeySecret,
          baseUrl: this.#baseUrl,
        })
      : createTwilioClient({
          accountSid: credential.accountSid,
          username: credential.accountSid,
          password: credential.authToken,
          baseUrl: this.#baseUrl,
        });
  }

  /** An official twilio client for the current credential. */
  async client(): Promise<TwilioClient> {
    await this.current();
    return this.#cached!.client;
  }

  /**
   * Run a Twilio call with the current client. On 20003 the store is re-read and, if it now holds another
   * credential, the call is retried once with it.
   */
  async withClient<T>(call: (client: TwilioClient) => Promise<T>): Promise<T> {
    const before = await this.current();
    try {
      const result = await call(this.#cached!.client);
      this.#authenticated = true;
      return result;
    } catch (error) {
      if (!(isTwilioApiError(error) && error.status === 401)) throw error;
      this.#refused(before, "call");
      const after = await this.refresh();
      if (sameCredential(after, before)) {
        this.#authenticated = false;
        throw error;
      }
      try {
        const result = await call(this.#cached!.client);
        this.#authenticated = true;
        return result;
      } catch (retryError) {
        if (isTwilioApiError(retryError) && retryError.status === 401) {
          this.#authenticated = false;
          this.#refused(after, "call");
        }
        throw retryError;
      }
    }
  }

  /** What the `http` consumer probe reads. */
  status(): { keySid?: string; tokenFingerprint?: string; authenticated: boolean } {
    const credential = this.#cached?.credential;
    if (credential === undefined) return { authenticated: false };
    return credential.kind === "api-key"
      ? { keySid: credential.apiKeySid, authenticated: this.#authenticated }
      : { tokenFingerprint: tokenFingerprint(credential.authToken), authenticated: this.#authenticated };
  }

  /** A node:http / Express handler for the status URL (GET). */
  statusHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(this.status()));
    };
  }

  /** A node:http / Express handler for the reload hook (POST): re-reads the store, answers 204. */
  reloadHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      this.refresh().then(
        () => {
          res.writeHead(204);
          res.end();
        },
        (error: unknown) => {
          res.writeHead(503, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: (error as Error).message }));
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
      const who =
        refused.kind === "api-key"
          ? `API key ${refused.apiKeySid.slice(0, 2)}…${refused.apiKeySid.slice(-4)}`
          : "the auth token";
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
