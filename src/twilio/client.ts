/**
 * The official `twilio` client, pointed at Twilio or at a local emulator.
 *
 * The client has no base-URL setting, and overriding each domain's baseUrl breaks on absolute
 * `next_page_url`s, so a custom RequestClient rewrites `https://<product>.twilio.com` to the configured
 * origin instead, keeping the host it meant (e.g. `api.dublin.ie1.twilio.com`, built from the client's
 * region and edge) in `X-Forwarded-Host`: credentials are per Twilio Region, so the emulator must know.
 * The same subclass turns every HTTP error into a TwilioApiError that also carries `Retry-After`, which
 * the library's RestException drops and our retry policy needs.
 */
// The client's own modules, not the package index: the index also loads TwiML builders, JWT helpers and
// webhook validation (about 65 modules rotator never uses), which every process on this path, and each
// sandbox app, would pay for at start-up.
import { createRequire } from "node:module";
import RequestClient from "twilio/lib/base/RequestClient.js";
import type RestExceptionModule from "twilio/lib/base/RestException.js";
import Twilio from "twilio/lib/rest/Twilio.js";
import { DEFAULT_TWILIO_TIMEOUT_SECONDS } from "../engine/deadlines.js";

// RestException is compiled as an ES module's default export (`exports.default`), where Node's `import`
// and vitest's interop disagree on what a default import is; `require` means the same to both.
const RestException: typeof RestExceptionModule.default = createRequire(import.meta.url)(
  "twilio/lib/base/RestException.js",
).default;

type RequestOptions<TData> = import("twilio/lib/base/RequestClient.js").RequestOptions<TData>;
type TwilioResponse<TData = unknown> = Awaited<ReturnType<RequestClient["request"]>> & { body: TData };

/** A Twilio error response, with the fields the engine acts on. Never carries request credentials. */
export class TwilioApiError extends RestException {
  /** Milliseconds from the Retry-After header, when the server sent one. */
  readonly retryAfterMs: number | undefined;
  /** Method and path (no host, no query) of the failed request, for messages. */
  readonly request: string;

  constructor(response: TwilioResponse, request: string) {
    super(response);
    this.name = "TwilioApiError";
    this.request = request;
    this.retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after"));
    // RestException leaves `message` as Twilio's bare text ("Authenticate"); say which call failed too.
    this.message = `${request} answered HTTP ${this.status}${this.code ? ` (Twilio error ${this.code})` : ""}: ${this.message}`;
  }
}

/**
 * A 2xx answer whose body is not the JSON Twilio always sends (a proxy's page, a cut-off body). Never
 * carries the body: for a key create it holds the new key's secret, and a JSON parser's message would quote
 * its first characters. The request may well have taken effect (a key created), so it is not retried as a
 * network error would be.
 */
export class TwilioUnreadableResponseError extends Error {
  override readonly name = "TwilioUnreadableResponseError";
  readonly status: number;
  readonly request: string;

  constructor(status: number, request: string, bytes: number, what = "a body that is not JSON") {
    super(`${request} answered HTTP ${status} with ${what} (${bytes} bytes, not shown: it may hold a secret)`);
    this.status = status;
    this.request = request;
  }
}

/**
 * A request Twilio (or the emulator at twilio.baseUrl) did not answer within its deadline. No `status`: the
 * retry policy takes it for a passing network failure, as it is.
 */
export class TwilioUnreachableError extends Error {
  override readonly name = "TwilioUnreachableError";
  constructor(request: string, origin: string, timeoutMs: number) {
    super(
      `${request} to ${origin}: no answer within ${timeoutMs / 1000} s (twilio.timeoutSeconds); Twilio is unreachable ` +
        "from this host or not answering: check the network path (proxy, firewall, DNS) and https://status.twilio.com",
    );
  }
}

/** axios's own timeout (the client's `timeout`): ECONNABORTED, or ETIMEDOUT with transitional options. */
function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ECONNABORTED" || code === "ETIMEDOUT";
}

export function isUnreadableResponse(error: unknown): error is TwilioUnreadableResponseError {
  return error instanceof TwilioUnreadableResponseError;
}

export function isTwilioApiError(error: unknown): error is TwilioApiError {
  return error instanceof TwilioApiError;
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? String(value[0]) : String(value);
  }
  return undefined;
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const TWILIO_ORIGIN = /^https:\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)*\.twilio\.com(?=\/|$)/i;

/**
 * Paces every request of a group of clients (a fleet's accounts share one): `acquire` resolves when a
 * request may go, `answered` hears each status, so a 429 slows every client down (see fleet/limiter.ts).
 */
export interface RequestThrottle {
  acquire(): Promise<void>;
  answered(status: number, retryAfterMs: number | undefined): void;
}

/** 429s a throttled client answers itself by waiting and sending again (Twilio: never processed, always safe to retry). */
const THROTTLED_429_ATTEMPTS = 8;

class RotatorRequestClient extends RequestClient {
  readonly #origin: string | undefined;
  readonly #throttle: RequestThrottle | undefined;
  readonly #timeoutMs: number;

  constructor(baseUrl: string | undefined, timeoutMs: number, throttle?: RequestThrottle) {
    // keepAlive off: rotator makes a handful of calls, and open sockets keep test processes alive.
    super({ timeout: timeoutMs, keepAlive: false, autoRetry: false });
    this.#origin = baseUrl?.replace(/\/+$/, "");
    this.#throttle = throttle;
    this.#timeoutMs = timeoutMs;
  }

  override async request<TData>(opts: RequestOptions<TData>): Promise<TwilioResponse<TData>> {
    let sent = opts;
    const meant = this.#origin === undefined ? undefined : TWILIO_ORIGIN.exec(opts.uri)?.[0];
    if (this.#origin !== undefined && meant !== undefined) {
      const headers = { ...opts.headers, "X-Forwarded-Host": new URL(meant).host };
      sent = { ...opts, uri: this.#origin + opts.uri.slice(meant.length), headers };
    }
    const request = `${opts.method.toUpperCase()} ${new URL(sent.uri).pathname}`;
    const send = () =>
      (super.request<TData>(sent) as Promise<TwilioResponse<TData>>).catch((error: unknown) => {
        throw isTimeout(error) ? new TwilioUnreachableError(request, new URL(sent.uri).origin, this.#timeoutMs) : error;
      });
    const response = this.#throttle === undefined ? await send() : await sendThrottled(send, this.#throttle);
    if (response.statusCode >= 400) throw new TwilioApiError(response, request);
    // The library JSON.parses bodies itself, and V8's parse errors quote the text; check here, quoting nothing.
    if (typeof response.body === "string" && response.body.length > 0 && !isJson(response.body)) {
      throw new TwilioUnreadableResponseError(response.statusCode, request, Buffer.byteLength(response.body));
    }
    return response;
  }
}

/**
 * One request, paced by the throttle when there is one. A throttled client waits out a 429 itself (the
 * throttle has heard its Retry-After and holds every request back until then) and sends again: a fleet's
 * shared rate limit is the normal case there, not an error of this request.
 */
async function sendThrottled<TData>(
  send: () => Promise<TwilioResponse<TData>>,
  throttle: RequestThrottle,
): Promise<TwilioResponse<TData>> {
  for (let attempt = 1; ; attempt++) {
    await throttle.acquire();
    const response = await send();
    const retryAfter =
      response.statusCode === 429 ? parseRetryAfter(headerValue(response.headers, "retry-after")) : undefined;
    throttle.answered(response.statusCode, retryAfter);
    if (response.statusCode !== 429 || attempt >= THROTTLED_429_ATTEMPTS) return response;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export type TwilioClient = Twilio;

export interface TwilioClientOptions {
  accountSid: string;
  /** Basic-auth user: the account SID (auth token) or a key SID (API key). */
  username: string;
  /** The auth token or the key secret. */
  password: string;
  /** An emulator's origin, e.g. http://127.0.0.1:4010. Undefined means Twilio itself. */
  baseUrl?: string | undefined;
  /** How long one request may go unanswered; default DEFAULT_TWILIO_TIMEOUT_SECONDS. */
  timeoutMs?: number | undefined;
  /** Twilio Region (`ie1`) and Edge (`dublin`): the client then calls `api.dublin.ie1.twilio.com`. */
  region?: string | undefined;
  edge?: string | undefined;
  /** Pace this client's requests with others' (a fleet's shared rate limit). */
  throttle?: RequestThrottle | undefined;
}

export function createTwilioClient(options: TwilioClientOptions): TwilioClient {
  return new Twilio(options.username, options.password, {
    accountSid: options.accountSid,
    httpClient: new RotatorRequestClient(
      options.baseUrl,
      options.timeoutMs ?? DEFAULT_TWILIO_TIMEOUT_SECONDS * 1000,
      options.throttle,
    ),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.edge === undefined ? {} : { edge: options.edge }),
  });
}

/**
 * Whether Twilio accepts an API key now: one Messages-list call (which a Standard key may make). False on
 * 401 (Twilio's 20003), true on success; anything else is thrown, since it says nothing about the key.
 */
export async function keyAuthenticates(options: {
  accountSid: string;
  keySid: string;
  secret: string;
  baseUrl?: string | undefined;
  throttle?: RequestThrottle | undefined;
  timeoutMs?: number | undefined;
}): Promise<boolean> {
  const client = createTwilioClient({
    accountSid: options.accountSid,
    username: options.keySid,
    password: options.secret,
    baseUrl: options.baseUrl,
    throttle: options.throttle,
    timeoutMs: options.timeoutMs,
  });
  try {
    // The generic request, not `api.v2010.accounts(…).messages`: the same GET without loading the 2010
    // resource tree (v2010-keys.ts says why).
    await client.request({
      method: "get",
      uri: `https://api.twilio.com/2010-04-01/Accounts/${options.accountSid}/Messages.json?PageSize=1`,
    });
    return true;
  } catch (error) {
    if (isTwilioApiError(error) && error.status === 401) return false;
    throw error;
  }
}
