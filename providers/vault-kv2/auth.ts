/**
 * Getting a Vault token: from an environment variable (token), or by logging in (AppRole, Kubernetes).
 *
 * Secrets are resolved from the provider's environment at first use, not when the provider is created: a
 * command that never talks to this store (or a `plan` that reports all problems at once) does not fail on a
 * variable it does not need yet. A logged-in token is kept for its lease and replaced shortly before it
 * expires, so a run that waits long for consumers does not find its token gone at rollback time.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import * as z from "zod";
import type { EnvReference } from "../../src/config/schema-parts.js";
import { StoreError } from "../errors.js";
import { readEnvReference } from "../toolkit.js";
import type { VaultHttp } from "./client.js";
import { storeErrorFor, VaultRequestFailure } from "./errors.js";
import type { VaultAuthConfig } from "./schema.js";

export interface AuthContext {
  store: string;
  env: Readonly<Record<string, string | undefined>>;
  baseDir: string;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number;
}

/** Hands out a token for each request. */
export interface VaultSession {
  readonly method: VaultAuthConfig["method"];
  /** A token that is valid now, logging in first if needed. */
  token(): Promise<string>;
  /** Forget a logged-in token (revoking it, best effort), so the next call logs in again. */
  close(): Promise<void>;
}

const loginResponse = z.object({
  auth: z.object({ client_token: z.string().min(1), lease_duration: z.number().nonnegative() }),
});

/** Reads `{ env: NAME }`, failing with the variable's name and where the config names it. */
export function resolveEnvReference(reference: EnvReference, where: string, context: AuthContext): string {
  return readEnvReference(reference, where, context.store, context.env);
}

export function createSession(auth: VaultAuthConfig, http: VaultHttp, context: AuthContext): VaultSession {
  switch (auth.method) {
    case "token":
      return {
        method: "token",
        // Read at each use, so a corrected variable in a long-lived process is picked up; it is only a map lookup.
        token: async () => resolveEnvReference(auth.token, "auth.token.env", context),
        close: async () => undefined,
      };
    case "approle":
      return new LoginSession("approle", http, context, auth.mount, async () => ({
        role_id:
          typeof auth.roleId === "string" ? auth.roleId : resolveEnvReference(auth.roleId, "auth.roleId.env", context),
        secret_id: resolveEnvReference(auth.secretId, "auth.secretId.env", context),
      }));
    case "kubernetes": {
      const tokenFile = resolve(context.baseDir, auth.tokenFile);
      return new LoginSession("kubernetes", http, context, auth.mount, async () => ({
        role: auth.role,
        // Projected service account tokens are rotated by the kubelet: read the file at every login.
        jwt: await readServiceAccountToken(tokenFile, context.store),
      }));
    }
  }
}

async function readServiceAccountToken(tokenFile: string, store: string): Promise<string> {
  let jwt: string;
  try {
    jwt = (await readFile(tokenFile, "utf8")).trim();
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "failed";
    throw new StoreError(
      "fatal",
      store,
      `cannot read the Kubernetes service account token ${tokenFile} (${code}); set auth.tokenFile, or run in a pod ` +
        "whose service account token is mounted.",
      { cause: error },
    );
  }
  if (jwt === "") throw new StoreError("fatal", store, `the Kubernetes service account token ${tokenFile} is empty.`);
  return jwt;
}

/** Renew this long before the lease ends: 10% of it, at least 5 s, at most 5 min. */
function renewMargin(leaseMs: number): number {
  return Math.min(300_000, Math.max(5_000, leaseMs / 10));
}

class LoginSession implements VaultSession {
  #current: { token: string; renewAt: number } | undefined;
  #pending: Promise<string> | undefined;
  readonly #now: () => number;

  constructor(
    readonly method: "approle" | "kubernetes",
    private readonly http: VaultHttp,
    private readonly context: AuthContext,
    private readonly mount: string,
    private readonly credentials: () => Promise<Record<string, string>>,
  ) {
    this.#now = context.now ?? Date.now;
  }

  async token(): Promise<string> {
    const current = this.#current;
    if (current !== undefined && this.#now() < current.renewAt) return current.token;
    this.#pending ??= this.#login().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    // The token was made for this provider alone; do not leave it valid for its whole lease.
    await this.http
      .request({ method: "POST", path: "auth/token/revoke-self", token: current.token, once: true })
      .catch(() => undefined);
  }

  async #login(): Promise<string> {
    const path = `auth/${this.mount}/login`;
    const label = this.method === "approle" ? "AppRole" : "Kubernetes";
    const body = await this.credentials();
    const started = this.#now();
    let response: unknown;
    try {
      ({ body: response } = await this.http.request({ method: "POST", path, body }));
    } catch (error) {
      if (!(error instanceof VaultRequestFailure)) throw error;
      throw storeErrorFor(error, {
        store: this.context.store,
        address: this.http.address,
        action: `log in to Vault with ${label} at ${path}`,
        hint: this.#hint(),
      });
    }
    const parsed = loginResponse.safeParse(response);
    if (!parsed.success) {
      throw new StoreError(
        "fatal",
        this.context.store,
        `Vault's answer to the ${label} login at ${path} holds no client token; is auth/${this.mount} a ${label} auth method?`,
      );
    }
    const { client_token: token, lease_duration: leaseSeconds } = parsed.data.auth;
    const leaseMs = leaseSeconds * 1000;
    // lease_duration 0: the token does not expire.
    const renewAt = leaseMs === 0 ? Number.POSITIVE_INFINITY : started + leaseMs - renewMargin(leaseMs);
    this.#current = { token, renewAt };
    return token;
  }

  #hint(): string {
    if (this.method === "approle") {
      return (
        `Check that the AppRole auth method is enabled at auth/${this.mount} ("mount"), that the role_id belongs ` +
        "to the role, and that the secret_id is valid (not expired, uses left, CIDR bound to this host)."
      );
    }
    return (
      `Check that the Kubernetes auth method is enabled at auth/${this.mount} ("mount"), and that the role binds ` +
      "this pod's service account name and namespace."
    );
  }
}
