/**
 * Auth Token issuer. Twilio lets an account hold a secondary Auth Token beside its primary: the secondary
 * authenticates from the moment it exists, and promoting it makes it the primary and ends the old primary
 * at once (accounts v1 /AuthTokens/Secondary and /AuthTokens/Promote). So the rotation writes the secondary
 * to every store, waits until every consumer uses it, and only then promotes: at no moment is the token a
 * store or consumer holds a dead one (AWS's managed rotation promotes first and waits afterwards).
 *
 * The admin credential is usually the very token being rotated. It works until the promote; from then on
 * this issuer uses the new token (kept by `adoptNew`), and says so through `onAdminSwitch`, so a resume
 * after a crash right after the promote still has a working admin credential. A Main API key as admin is
 * not affected by any of this.
 *
 * What Twilio does not offer: a way to read whether a secondary exists (there is no GET), or its value
 * afterwards. So a secondary made elsewhere (the Console, another tool) cannot be seen before creating
 * one; what Twilio does then is undocumented (see src/emulator/behaviour.ts). `plan` says so plainly.
 */
import type { StoredCredential } from "../../../providers/contract.js";
import { tokenFingerprint } from "../../../providers/contract.js";
import { errorMessage } from "../../errors.js";
import { createTwilioClient, isTwilioApiError, isUnreadableResponse, type TwilioClient } from "../../twilio/client.js";
import type { AdminCredentialShape } from "../../twilio/diagnose.js";
import { DEFAULT_RETRY_POLICY, isRetryableTwilioError, type RetryPolicy, withTwilioRetry } from "../../twilio/retry.js";
import { v2010Keys } from "../../twilio/v2010-keys.js";
import { maskSid, registerSecret } from "../../util/mask.js";
import { adminCheckFailure } from "../admin-check.js";
import type {
  AccountMarks,
  CredentialInfo,
  IssuedCredential,
  Issuer,
  IssuerPreflight,
  VerifyOutcome,
} from "../issuer.js";
import { is20003, sleep, untilAuthenticates, untilRefused } from "../polling.js";
import { authTokenOf, isAuthToken } from "./credential.js";
import { AUTH_TOKEN_LABELS } from "./labels.js";

export interface AuthTokenIssuerOptions {
  admin: AdminCredentialShape;
  baseUrl?: string | undefined;
  /** A GET the new token may call to prove it authenticates; `{AccountSid}` is filled in. */
  verifyPath: string;
  /** Waited after the promote before checking that the old token is refused. */
  promoteSettleMs: number;
  propagationTimeoutMs: number;
  revokeConfirmTimeoutMs: number;
  /** How long one Twilio request may go unanswered (`twilio.timeoutSeconds`). */
  requestTimeoutMs?: number;
  retry?: RetryPolicy;
  onRetry?: (what: string, error: Error, attempt: number) => void;
  onAdminSwitch?: (from: string, to: string) => void;
}

/** The id `findCreatedBy` gives a secondary the journal never recorded (its value, hence its fingerprint, is lost). */
export const UNRECORDED_SECONDARY = "secondary";

/** The create was refused, nothing was made: most likely a secondary exists already. */
export class SecondaryRefusedError extends Error {
  override readonly name = "SecondaryRefusedError";
}

interface Admin {
  client: TwilioClient;
  /** For messages: `env TWILIO_AUTH_TOKEN`, `the new token`. */
  source: string;
  /** The token itself when the admin is the account's own token (not a Main key). */
  token: string | undefined;
}

/** How many times a create whose answer was lost or unreadable is tried (each leftover deleted first). */
const CREATE_ATTEMPTS = 3;

export class AuthTokenIssuer implements Issuer {
  readonly kind = "auth-token" as const;
  readonly labels = AUTH_TOKEN_LABELS;
  readonly revokeEvenWhenOldIsDead = true;
  readonly #options: AuthTokenIssuerOptions;
  readonly #accountSid: string;
  #admin: Admin;
  /** The run's new token, as an admin to fall back on once the configured token is promoted away. */
  #fallback: Admin | undefined;
  /** Whether this process has tried to create a secondary (then it, not the journal, knows what it made). */
  #createTried = false;
  /** Whether a create of this process may have made a secondary whose value it never received. */
  #mayHaveCreated = false;

  constructor(options: AuthTokenIssuerOptions) {
    this.#options = options;
    this.#accountSid = options.admin.accountSid;
    const isToken = options.admin.username === options.admin.accountSid;
    this.#admin = {
      client: this.#clientFor(options.admin.username, options.admin.password),
      source: options.admin.passwordSource,
      token: isToken ? options.admin.password : undefined,
    };
  }

  #clientFor(username: string, password: string): TwilioClient {
    return createTwilioClient({
      accountSid: this.#accountSid,
      username,
      password,
      baseUrl: this.#options.baseUrl,
      timeoutMs: this.#options.requestTimeoutMs,
    });
  }

  describeCreate(): string {
    return "create a secondary auth token (it authenticates at once, beside the primary)";
  }

  describeCreating(): string {
    return "creating a secondary auth token";
  }

  describeRevoking(oldMasked: string): string {
    return `promoting the new token: the old token ${oldMasked} stops working now`;
  }

  describeRevoke(oldMasked: string): string {
    const settle = this.#options.promoteSettleMs > 0 ? `, wait ${this.#options.promoteSettleMs / 1000} s,` : "";
    return `promote the new token to primary (the old token ${oldMasked} stops working at once)${settle} and confirm Twilio refuses the old one (20003)`;
  }

  friendlyNameFor(): string {
    // Auth tokens carry no name: a run's secondary is known by the journal alone.
    return "secondary auth token";
  }

  #retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return withTwilioRetry(operation, this.#options.retry ?? DEFAULT_RETRY_POLICY, (error, attempt) =>
      this.#options.onRetry?.(what, error, attempt),
    );
  }

  /**
   * One admin call. When the configured admin is the token being rotated and Twilio refuses it (20003), the
   * token was promoted away (by this run, before a crash, or by someone else): carry on with the new token,
   * if this run has it.
   */
  async #asAdmin<T>(what: string, operation: (client: TwilioClient) => Promise<T>): Promise<T> {
    try {
      return await this.#retry(what, () => operation(this.#admin.client));
    } catch (error) {
      if (!is20003(error) || !this.#switchToFallback()) throw error;
      return this.#retry(what, () => operation(this.#admin.client));
    }
  }

  /** Use the new token as admin from now on; false when there is nothing to switch to. */
  #switchToFallback(): boolean {
    const fallback = this.#fallback;
    if (fallback === undefined || this.#admin === fallback || this.#admin.token === undefined) return false;
    // The admin was read from a store that already held the new token (a resume): nothing was promoted away.
    if (this.#admin.token === fallback.token) return false;
    const from = this.#admin.source;
    this.#admin = fallback;
    this.#options.onAdminSwitch?.(`${from} (Twilio refuses it: promoted away, or reset)`, fallback.source);
    return true;
  }

  async checkAdmin(): Promise<void> {
    try {
      await this.#asAdmin("fetch account", (client) => client.api.v2010.accounts(this.#accountSid).fetch());
    } catch (error) {
      throw adminCheckFailure(error, this.#options.admin, this.#accountSid);
    }
  }

  async preflight(current: StoredCredential | undefined): Promise<IssuerPreflight> {
    const notes = [
      "Twilio offers no way to see whether a secondary Auth Token exists without creating one. If one does (made in " +
        "the Console, or by another tool), creating rotator's replaces or is refused by it: check Console > Account > " +
        "API keys & tokens > Auth tokens first.",
      "Twilio Functions and Services that hold the Auth Token inline (not as an environment variable) need about a " +
        "minute after the promote to use the new token (Twilio's docs); credential.promoteSettleSeconds waits before " +
        "the old token is checked.",
    ];
    const problems: string[] = [];
    const { admin } = this.#options;
    if (admin.username !== admin.accountSid && !admin.username.startsWith("SK")) {
      problems.push(
        `the admin credential is another account's (${maskSid(admin.username)}): an Auth Token is promoted by its own account only; use ${maskSid(this.#accountSid)}'s own token or a Main key of it`,
      );
    }
    const adminIsRotated =
      isAuthToken(current) && this.#admin.token !== undefined && this.#admin.token === current.authToken;
    if (adminIsRotated && admin.passwordSource.startsWith("env ")) {
      notes.push(
        `the admin credential (${admin.passwordSource}) is the token being rotated: it works until the promote, then ` +
          `that variable holds a dead token. Update it afterwards, or use twilio.admin: { authToken: { fromStore: <store> } } ` +
          "so every run reads the current token from a store.",
      );
    }
    return { problems, notes };
  }

  /** The primary token's fingerprint, read from the Account resource (whose `auth_token` is never kept). */
  async #primaryFingerprint(): Promise<string> {
    const account = await this.#asAdmin("fetch account", (client) =>
      client.api.v2010.accounts(this.#accountSid).fetch(),
    );
    registerSecret(account.authToken);
    return tokenFingerprint(account.authToken);
  }

  async describe(id: string, credential?: StoredCredential): Promise<CredentialInfo | undefined> {
    // Twilio does not say when a primary token was made: its age is the journal's to know (engine/age.ts).
    const primary = await this.#primaryFingerprint();
    if (primary === id) return { id, friendlyName: "primary auth token", createdAt: undefined };
    // Not the primary, yet accepted: the account's secondary (made in the Console, or synced before a promote).
    if (!isAuthToken(credential) || !(await this.#accepts(credential.authToken))) return undefined;
    return {
      id,
      friendlyName: "secondary auth token",
      createdAt: undefined,
      notRotatable:
        `${maskSid(id)} is the account's secondary Auth Token, not its primary (${maskSid(primary)}): creating another ` +
        "secondary, as a rotation does first (or the Console), would replace it, and every store holding it would stop " +
        "working at once. Promote it once every consumer uses it (Console > Account > API keys & tokens > Auth tokens), " +
        "then rotate; or `rotator sync` the primary to every store",
    };
  }

  /** Whether Twilio accepts this token now (false: 401/20003). */
  async #accepts(token: string): Promise<boolean> {
    try {
      await this.#callAs(token);
      return true;
    } catch (error) {
      if (is20003(error)) return false;
      throw error;
    }
  }

  async checkCanVerify(current: StoredCredential | undefined): Promise<string | undefined> {
    if (!isAuthToken(current)) return undefined;
    try {
      await this.#callAs(current.authToken);
      return undefined;
    } catch (error) {
      if (isTwilioApiError(error) && error.status === 404) {
        return `credential.verifyPath ${this.#options.verifyPath} answered HTTP 404 to the current token: no such endpoint; use one that exists, such as /2010-04-01/Accounts/{AccountSid}.json`;
      }
      return undefined; // a dead or refused current token is preflight's concern, not verifyPath's
    }
  }

  async issue(): Promise<IssuedCredential> {
    this.#createTried = true;
    for (let attempt = 1; ; attempt++) {
      let created: { secondaryAuthToken: string; dateCreated: Date };
      // Whether an earlier try of this attempt (retried inside #asAdmin) got no answer it could read.
      let lostEarlier = this.#mayHaveCreated;
      try {
        created = await this.#asAdmin("create secondary token", async (client) => {
          try {
            return await client.accounts.v1.secondaryAuthToken().create();
          } catch (error) {
            lostEarlier = this.#mayHaveCreated;
            if (mayHaveTakenEffect(error)) this.#mayHaveCreated = true;
            throw error;
          }
        });
      } catch (error) {
        if (isUnreadableResponse(error) && attempt < CREATE_ATTEMPTS) {
          // It was made, but its value is lost with the answer: delete it and make another.
          await this.#discardOwn();
          this.#options.onRetry?.("create secondary token", error, attempt);
          continue;
        }
        if (isTwilioApiError(error) && error.status >= 400 && error.status < 500 && error.status !== 429) {
          if (lostEarlier) {
            // An earlier try's answer was lost and this one is refused because that secondary exists: it is
            // this run's own, of unknown value.
            await this.#discardOwn();
            if (attempt < CREATE_ATTEMPTS) continue;
          }
          throw new SecondaryRefusedError(
            `Twilio refused to create a secondary Auth Token (${errorMessage(error)}). Most likely one exists already, made in the Console or by another tool: find out whose it is, then delete it (Console > Account > API keys & tokens) or promote it yourself, and run again`,
            { cause: error },
          );
        }
        throw error;
      }
      registerSecret(created.secondaryAuthToken);
      this.#mayHaveCreated = false;
      const credential: StoredCredential = {
        kind: "auth-token",
        accountSid: this.#accountSid,
        authToken: created.secondaryAuthToken,
      };
      return { id: tokenFingerprint(created.secondaryAuthToken), credential, createdAt: created.dateCreated };
    }
  }

  /** One authenticated GET of verifyPath with the given token. */
  async #callAs(token: string): Promise<void> {
    const client = this.#clientFor(this.#accountSid, token);
    const path = this.#options.verifyPath.replace("{AccountSid}", this.#accountSid);
    await client.request({ method: "get", uri: `https://api.twilio.com${path}` });
  }

  async authenticatesNow(credential: StoredCredential): Promise<boolean> {
    return this.#accepts(authTokenOf(credential).authToken);
  }

  /** The account's keys through the admin credential (and its fallback, once the configured one is promoted away). */
  readonly marks: AccountMarks = {
    list: () => this.#asAdmin("list keys", (client) => v2010Keys(client, this.#accountSid).listKeys()),
    create: async (friendlyName) => {
      const key = await this.#asAdmin("create key", (client) =>
        v2010Keys(client, this.#accountSid).createKey(friendlyName),
      );
      // Never used: a mark is known by its name. Its secret is dropped here, and masked should it ever be shown.
      registerSecret(key.secret);
      return key.sid;
    },
    remove: async (sid) => {
      try {
        await this.#asAdmin("delete key", (client) => v2010Keys(client, this.#accountSid).removeKey(sid));
        return "deleted";
      } catch (error) {
        if (isTwilioApiError(error) && error.status === 404) return "absent";
        throw error;
      }
    },
  };

  verifyAuthenticates(credential: StoredCredential): Promise<VerifyOutcome> {
    const { authToken } = authTokenOf(credential);
    const what = `the new token ${maskSid(tokenFingerprint(authToken))}`;
    return untilAuthenticates(() => this.#callAs(authToken), {
      timeoutMs: this.#options.propagationTimeoutMs,
      what,
    });
  }

  async findCreatedBy(_runId: string, hint: { started: boolean; knownId: string | undefined }): Promise<string[]> {
    if (hint.knownId !== undefined) return [];
    // This process tried: it knows whether any create may have taken effect. A secondary that exists after
    // creates Twilio answered with errors is not this run's (someone else's, which must be left alone).
    if (this.#createTried) return this.#mayHaveCreated ? [UNRECORDED_SECONDARY] : [];
    // After a crash only the journal can tell: the run began creating a secondary and never learnt it.
    return hint.started ? [UNRECORDED_SECONDARY] : [];
  }

  describeDiscardedUnrecorded(): { text: string; certain: boolean } {
    return {
      text:
        "deleted the account's secondary Auth Token, which this run's create made but never recorded (a crash, or a " +
        "lost answer). Twilio cannot say whose a secondary is: if someone made one since, it was theirs that was deleted",
      certain: false,
    };
  }

  /** Delete the secondary this run made but lost the value of. */
  async #discardOwn(): Promise<void> {
    await this.discard();
    this.#mayHaveCreated = false;
  }

  /** Delete the secondary (an account has at most one). Only ever called for this run's own. */
  async discard(): Promise<"deleted" | "absent"> {
    try {
      await this.#asAdmin("delete secondary token", (client) => client.accounts.v1.secondaryAuthToken().remove());
      return "deleted";
    } catch (error) {
      if (isTwilioApiError(error) && error.status === 404) return "absent";
      throw error;
    }
  }

  /**
   * Promote the secondary: it becomes the primary and the old primary is refused at once. Twilio answers 404
   * when there is no secondary: after a crash between the promote and its journal entry, that is this run's
   * own promote, which the primary's fingerprint confirms.
   */
  async revoke(oldId: string, newId: string | undefined): Promise<"deleted" | "absent"> {
    try {
      await this.#asAdmin("promote secondary token", (client) => client.accounts.v1.authTokenPromotion().update());
    } catch (error) {
      if (!(isTwilioApiError(error) && error.status === 404)) throw error;
      const primary = await this.#primaryFingerprint();
      if (newId !== undefined && primary === newId) return "absent";
      throw new Error(
        `there is no secondary Auth Token to promote, and the primary is ${primary === oldId ? "still the old token" : `${maskSid(primary)}, neither the old nor the new token`}: someone deleted or promoted the secondary meanwhile. Check Console > Account > API keys & tokens, then \`rotator rollback\` (or \`rotator sync\` to the token in use)`,
        { cause: error },
      );
    }
    // The old token is dead now: if it was the admin, go on with the new one without waiting for a refusal.
    this.#switchToFallback();
    return "deleted";
  }

  async confirmRefused(old: StoredCredential): Promise<boolean> {
    const { authToken } = authTokenOf(old);
    if (this.#options.promoteSettleMs > 0) await sleep(this.#options.promoteSettleMs);
    return untilRefused(() => this.#callAs(authToken), this.#options.revokeConfirmTimeoutMs);
  }

  adoptNew(credential: StoredCredential, source = "the run's new token, as the stores hold it"): void {
    if (!isAuthToken(credential) || this.#admin.token === undefined) return;
    this.#fallback = {
      client: this.#clientFor(this.#accountSid, credential.authToken),
      source,
      token: credential.authToken,
    };
  }

  refusedBeforeCreating(error: unknown): boolean {
    return error instanceof SecondaryRefusedError;
  }
}

/**
 * Whether a failed create may still have made a secondary: its answer never arrived (the connection dropped,
 * timed out), came from a gateway that had passed the request on (502, 504), or could not be read. An answer
 * from Twilio itself (4xx, 429, 500, 503) means nothing was made.
 */
function mayHaveTakenEffect(error: unknown): boolean {
  if (isUnreadableResponse(error)) return true;
  if (isTwilioApiError(error)) return error.status === 502 || error.status === 504;
  // A connection refused never carried the request.
  return error instanceof Error && !("status" in error) && (error as NodeJS.ErrnoException).code !== "ECONNREFUSED";
}

export { isRetryableTwilioError };
