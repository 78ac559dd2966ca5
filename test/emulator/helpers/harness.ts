/**
 * A fresh emulator per test, driven through the official `twilio` client (via src/twilio/client.ts).
 * Every response any client of the harness receives is recorded and, after each test, held to the
 * OpenAPI specs (see contract.ts): the contract is checked on all traffic, not only where a test asserts.
 */
import type RequestClient from "twilio/lib/base/RequestClient.js";
import { afterEach, beforeEach } from "vitest";
import { startTwilioEmulator, type TwilioEmulator, type TwilioEmulatorOptions } from "../../../src/emulator/index.js";
import { createTwilioClient, type TwilioClient } from "../../../src/twilio/client.js";
import { type Exchange, type MatchedOperation, SPEC_DIR, specContract } from "./contract.js";

export interface Harness {
  emulator: TwilioEmulator;
  /** The main account's primary auth token. */
  admin: TwilioClient;
  /** A client for any credential; `accountSid` defaults to the main account. */
  client(username: string, password: string, accountSid?: string, target?: ClientTarget): TwilioClient;
  /** Every exchange so far in this test, in order. */
  exchanges: Exchange[];
  /** Operations whose responses were validated so far (filled after each test). */
  validated: MatchedOperation[];
  /**
   * A raw HTTP request, for what the official client cannot send (no credentials, a missing required
   * parameter, a method the spec lacks). Recorded for the contract check unless `record` is false.
   */
  raw(method: string, path: string, options?: RawOptions): Promise<Exchange>;
}

/** The official client's own `region` and `edge` options, from which it builds hosts like api.dublin.ie1.twilio.com. */
export interface ClientTarget {
  region?: string;
  edge?: string;
}

export interface RawOptions {
  /** Basic credentials as [username, password], or a literal Authorization header. */
  auth?: readonly [string, string] | string;
  form?: Record<string, string>;
  /** False for requests the spec does not describe at all (they cannot be checked against it). */
  record?: boolean;
}

/** Wraps the client's RequestClient so each response, success or error, is recorded as sent. */
export function recordExchanges(client: TwilioClient, into: Exchange[]): void {
  const http = client.httpClient;
  const original = http.request.bind(http);
  http.request = async <TData>(opts: RequestClient.RequestOptions<TData>) => {
    try {
      return await original(opts);
    } finally {
      const request = http.lastRequest;
      const response = http.lastResponse;
      if (request && response) {
        const url = new URL(request.url);
        if (request.params !== "*" && request.params) {
          for (const [name, value] of Object.entries(request.params)) url.searchParams.append(name, String(value));
        }
        into.push({
          method: String(request.method).toUpperCase(),
          url,
          status: response.statusCode,
          body: response.body,
          headers: lowerCaseHeaders(response.headers),
        });
      }
    }
  };
}

function lowerCaseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = String(value);
  }
  return out;
}

/**
 * Registers beforeEach/afterEach hooks and returns a getter for the current test's harness. After each
 * test every recorded exchange must conform to the specs, and the emulator is closed. `options` are
 * passed to every emulator the file starts (the spec folder is always the vendored one).
 */
export function useEmulator(options: Omit<TwilioEmulatorOptions, "specDir"> = {}): () => Harness {
  let current: Harness | undefined;
  const validatedAll: MatchedOperation[] = [];

  beforeEach(async () => {
    const emulator = await startTwilioEmulator({ ...options, specDir: SPEC_DIR });
    const exchanges: Exchange[] = [];
    const client = (
      username: string,
      password: string,
      accountSid = emulator.accountSid,
      target: ClientTarget = {},
    ) => {
      const baseUrl = emulator.baseUrl;
      const c = createTwilioClient({ accountSid, username, password, baseUrl, timeoutMs: 10_000, ...target });
      recordExchanges(c, exchanges);
      return c;
    };
    const raw = async (method: string, path: string, options: RawOptions = {}): Promise<Exchange> => {
      const headers: Record<string, string> = {};
      if (typeof options.auth === "string") headers.Authorization = options.auth;
      else if (options.auth) headers.Authorization = basic(...options.auth);
      let body: string | undefined;
      if (options.form) {
        headers["Content-Type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(options.form).toString();
      }
      const response = await fetch(`${emulator.baseUrl}${path}`, { method, headers, body: body ?? null });
      const text = await response.text();
      const exchange: Exchange = {
        method,
        url: new URL(`${emulator.baseUrl}${path}`),
        status: response.status,
        body: text === "" ? "" : (JSON.parse(text) as unknown),
        headers: Object.fromEntries(response.headers),
      };
      if (options.record !== false) exchanges.push(exchange);
      return exchange;
    };
    current = {
      emulator,
      admin: client(emulator.accountSid, emulator.authToken),
      client,
      exchanges,
      validated: validatedAll,
      raw,
    };
  });

  afterEach(async () => {
    const h = current;
    current = undefined;
    if (!h) return;
    try {
      const contract = specContract();
      for (const exchange of h.exchanges) validatedAll.push(contract.assertConforms(exchange));
    } finally {
      await h.emulator.close();
    }
  });

  return () => {
    if (!current) throw new Error("the harness exists only inside a test");
    return current;
  };
}

/** Basic auth header for raw requests (used only where the official client cannot express the request). */
export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
