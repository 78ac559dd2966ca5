/**
 * The Vault HTTP API as this provider uses it: raw paths (node-vault 0.12 has no KV v2 helpers), one token per
 * request, bounded retries of passing faults, and failures reduced to secret-free VaultRequestFailures.
 *
 * node-vault reads VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_SKIP_VERIFY from process.env, and logs
 * request bodies through `debug` when DEBUG=node-vault is set. None of that may apply here: the token comes
 * from the store's config, TLS is always verified, and a request body holds the credential. So the client is
 * built with a silent logger and strict TLS, and the fields it took from process.env are cleared.
 */
import nodeVault from "node-vault";
import { type RetryPolicy, withRetries } from "../error-kit/retry.js";
import { StoreError } from "../errors.js";
import { beforeSend } from "../store-call.js";
import { toRequestFailure, VaultRequestFailure } from "./errors.js";

export interface VaultHttpOptions {
  /** `https://vault:8200`, without a trailing slash. */
  address: string;
  namespace: string | undefined;
  /** PEM of the CA(s) to trust for an https address, instead of the system's CAs. */
  ca: Buffer | undefined;
  /** Per-request timeout. */
  timeoutMs: number;
  /** The one retry policy's (error-kit/retry.ts) when undefined. */
  retry: RetryPolicy | undefined;
}

export interface VaultRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The API path after /v1/, query string included. */
  path: string;
  body?: unknown;
  token?: string | undefined;
  /** Non-2xx statuses that are answers, not failures (404 for a secret that does not exist). */
  accept?: readonly number[];
  /** Send once, without retries (best-effort calls such as revoking a token on close). */
  once?: boolean;
}

export interface VaultResponse {
  status: number;
  /** The parsed JSON body; undefined for 204. */
  body: unknown;
}

export class VaultHttp {
  readonly address: string;
  readonly #client: nodeVault.client;
  readonly #namespace: string | undefined;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy | undefined;

  constructor(options: VaultHttpOptions) {
    this.address = options.address;
    this.#namespace = options.namespace;
    this.#timeoutMs = options.timeoutMs;
    this.#retry = options.retry;
    // The TLS options here become the client's one https agent; `request()` does not merge requestOptions
    // into each call (read/write do), so the timeout is passed per request below.
    this.#client = nodeVault({
      apiVersion: "v1",
      endpoint: options.address,
      debug: () => undefined,
      requestOptions: {
        strictSSL: true,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
    });
    // Whatever node-vault took from process.env: the token and namespace are sent per request below.
    Object.assign(this.#client, { token: "", namespace: undefined, pathPrefix: "" });
  }

  /** Sends the request, retrying passing faults; throws a VaultRequestFailure. */
  async request(request: VaultRequest): Promise<VaultResponse> {
    let attempts = 0;
    const attempt = async (): Promise<VaultResponse> => {
      attempts++;
      try {
        return await this.#send(request);
      } catch (error) {
        // Refused before it was sent (the lock is gone, the call is over): not a Vault failure, never retried.
        if (error instanceof StoreError) throw error;
        throw toRequestFailure(error, request.method, request.path);
      }
    };
    try {
      if (request.once === true) return await attempt();
      return await withRetries(attempt, {
        policy: this.#retry,
        retryable: (error) => error instanceof VaultRequestFailure && error.kind === "retryable",
      });
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const failure = toRequestFailure(error, request.method, request.path);
      failure.attempts = attempts;
      throw failure;
    }
  }

  async #send(request: VaultRequest): Promise<VaultResponse> {
    const headers: Record<string, string> = {};
    if (request.token !== undefined) headers["X-Vault-Token"] = request.token;
    if (this.#namespace !== undefined) headers["X-Vault-Namespace"] = this.#namespace;
    // The last moment before a request that changes the secret leaves (providers/store-call.ts).
    await beforeSend();
    try {
      const body: unknown = await this.#client.request({
        method: request.method,
        path: `/${request.path}`,
        headers,
        timeout: this.#timeoutMs,
        ...(request.body === undefined ? {} : { json: request.body }),
      });
      return { status: 200, body: body === "" ? undefined : body };
    } catch (error) {
      const response = apiResponseOf(error);
      if (response !== undefined && request.accept?.includes(response.statusCode)) {
        return { status: response.statusCode, body: response.body };
      }
      throw error;
    }
  }
}

/** The `response` of node-vault's ApiResponseError (a non-2xx answer), if that is what `error` is. */
function apiResponseOf(error: unknown): { statusCode: number; body: unknown } | undefined {
  if (typeof error !== "object" || error === null || !("response" in error)) return undefined;
  const response = error.response;
  if (typeof response !== "object" || response === null || !("statusCode" in response)) return undefined;
  const { statusCode } = response;
  return typeof statusCode === "number"
    ? { statusCode, body: "body" in response ? response.body : undefined }
    : undefined;
}
