/**
 * `TwilioWebhookValidator`: a node:http / Express handler that lets through only webhooks signed with a
 * secret the app trusts right now, answers anything else 403, and counts both.
 *
 * The trusted auth tokens come from a function, asked on every webhook, so the set can change while the
 * app runs: the current token, and during an Auth Token rotation the other one too (Twilio signs with its
 * primary, which changes at the promote and takes a while to propagate). `status()` reports the
 * fingerprints it validates with, for rotator's consumer checks.
 *
 *   const validator = new TwilioWebhookValidator({ authTokens: () => [current, previous] });
 *   http.createServer(validator.handler((req, res, params) => { ... }));   // node:http
 *   app.post("/sms", validator.handler(), (req, res) => { ... });           // Express (req.body = params)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { tokenFingerprint } from "../../providers/contract.js";
import {
  type RejectionReason,
  SIGNATURE_HEADER,
  SIGNATURE_SETTINGS_HEADER,
  type SignedWebhook,
  verifyTwilioWebhook,
  type WebhookVerdict,
} from "./webhook-signature.js";

type Secrets = () => readonly string[] | Promise<readonly string[]>;
export type WebhookParams = Record<string, string | string[]>;

export interface TwilioWebhookValidatorOptions {
  /** The auth tokens the app trusts now; asked on every webhook. An empty set rejects every webhook. */
  authTokens: Secrets;
  /** SharedKey secrets, for webhooks a Webhooks Rule signs (those carry X-Twilio-Webhooks-Signature-Settings). */
  sharedKeys?: Secrets;
  /**
   * The public origin Twilio calls (`https://app.example.com`), when the app sits behind a proxy that
   * changes it; the request's path and query are appended. Default: rebuilt from the request (Host, and
   * TLS or not), or from X-Forwarded-Proto / X-Forwarded-Host when `trustProxy` is set.
   */
  publicOrigin?: string;
  trustProxy?: boolean;
  /** Told of each rejection (never with a secret), for an app's own monitoring; a throwing callback is ignored. */
  onRejected?: (event: { reason: RejectionReason; path: string }) => void;
}

export interface WebhookValidationStatus {
  accepted: number;
  rejected: number;
  /** Rejections by reason, e.g. `{"bad-signature": 3}`. */
  rejectedBy: Partial<Record<RejectionReason, number>>;
  /** Accepted webhooks by the fingerprint of the secret that validated them. */
  acceptedBy: Record<string, number>;
  /** Fingerprints (tokenFingerprint) of the auth tokens webhooks are validated with now. */
  validatesWith: string[];
}

/** Far above any webhook Twilio sends; only here so a hostile client cannot exhaust memory. */
const MAX_BODY_BYTES = 1024 * 1024;

export class TwilioWebhookValidator {
  readonly #options: TwilioWebhookValidatorOptions;
  #accepted = 0;
  #rejected = 0;
  readonly #rejectedBy: Partial<Record<RejectionReason, number>> = {};
  readonly #acceptedBy: Record<string, number> = {};

  constructor(options: TwilioWebhookValidatorOptions) {
    this.#options = options;
  }

  get accepted(): number {
    return this.#accepted;
  }

  get rejected(): number {
    return this.#rejected;
  }

  /** Checks one webhook against the secrets trusted now, and counts the verdict. */
  async verify(webhook: SignedWebhook): Promise<WebhookVerdict> {
    let verdict: WebhookVerdict;
    try {
      const [authTokens, sharedKeys] = await Promise.all([
        this.#options.authTokens(),
        this.#options.sharedKeys?.() ?? [],
      ]);
      verdict = verifyTwilioWebhook(webhook, { authTokens, sharedKeys });
    } catch {
      // The app cannot say which tokens it trusts (its store is unreachable): nothing can be validated.
      verdict = { valid: false, reason: "no-trusted-token" };
    }
    if (verdict.valid) {
      this.#accepted++;
      this.#acceptedBy[verdict.by] = (this.#acceptedBy[verdict.by] ?? 0) + 1;
    } else {
      this.#rejected++;
      this.#rejectedBy[verdict.reason] = (this.#rejectedBy[verdict.reason] ?? 0) + 1;
    }
    return verdict;
  }

  /**
   * The handler. Valid webhooks go on: to Express's `next()` (with `req.body` set to the parameters when no
   * body parser ran before), else to `onValid`, else they are answered `200 <Response/>` (do nothing).
   * Invalid ones are answered 403 and go no further.
   */
  handler(
    onValid?: (req: IncomingMessage, res: ServerResponse, params: WebhookParams) => void,
  ): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
    return (req, res, next) => {
      this.#handle(req, res, next, onValid).catch((error: unknown) => {
        if (next) next(error);
        else if (!res.headersSent) res.writeHead(500).end();
      });
    };
  }

  async status(): Promise<WebhookValidationStatus> {
    let validatesWith: string[] = [];
    try {
      validatesWith = (await this.#options.authTokens()).map(tokenFingerprint);
    } catch {
      // Reported as validating with nothing, which is the truth while the tokens cannot be had.
    }
    return {
      accepted: this.#accepted,
      rejected: this.#rejected,
      rejectedBy: { ...this.#rejectedBy },
      acceptedBy: { ...this.#acceptedBy },
      validatesWith,
    };
  }

  async #handle(
    req: IncomingMessage,
    res: ServerResponse,
    next: ((error?: unknown) => void) | undefined,
    onValid: ((req: IncomingMessage, res: ServerResponse, params: WebhookParams) => void) | undefined,
  ): Promise<void> {
    const parsed = parsedBody(req);
    const rawBody = parsed === undefined ? await readBody(req) : rawBodyOf(req);
    if (rawBody === null) {
      res.writeHead(413, { "Content-Type": "text/plain" }).end("Request body too large");
      return;
    }
    const params = parsed ?? formParams(req, rawBody ?? "");
    const url = this.#url(req);
    const verdict = await this.verify({
      signature: header(req, SIGNATURE_HEADER),
      signatureSettings: header(req, SIGNATURE_SETTINGS_HEADER),
      url,
      params,
      rawBody,
    });
    if (!verdict.valid) {
      this.#tell(verdict.reason, url);
      res.writeHead(403, { "Content-Type": "text/plain" }).end("Twilio Request Validation Failed.");
      return;
    }
    if (next) {
      (req as IncomingMessage & { body?: unknown }).body ??= params;
      next();
    } else if (onValid) {
      onValid(req, res, params);
    } else {
      res.writeHead(200, { "Content-Type": "text/xml" }).end("<Response/>");
    }
  }

  /** The URL Twilio requested: the public origin, then the path and query as received. */
  #url(req: IncomingMessage): string {
    const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    if (this.#options.publicOrigin !== undefined) return `${this.#options.publicOrigin.replace(/\/+$/, "")}${path}`;
    const forwarded = this.#options.trustProxy === true;
    const proto =
      (forwarded ? header(req, "x-forwarded-proto")?.split(",")[0]?.trim() : undefined) ??
      ("encrypted" in req.socket && req.socket.encrypted ? "https" : "http");
    const host = (forwarded ? header(req, "x-forwarded-host")?.split(",")[0]?.trim() : undefined) ?? req.headers.host;
    return `${proto}://${host ?? "localhost"}${path}`;
  }

  #tell(reason: RejectionReason, url: string): void {
    try {
      this.#options.onRejected?.({ reason, path: new URL(url).pathname });
    } catch {
      // Monitoring never turns a rejection into another error.
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** What a body parser (express.urlencoded) already made of the body, if one ran. */
function parsedBody(req: IncomingMessage): WebhookParams | undefined {
  const body = (req as IncomingMessage & { body?: unknown }).body;
  return typeof body === "object" && body !== null && !Buffer.isBuffer(body) ? (body as WebhookParams) : undefined;
}

function rawBodyOf(req: IncomingMessage): string | undefined {
  const raw = (req as IncomingMessage & { rawBody?: unknown }).rawBody;
  return Buffer.isBuffer(raw) ? raw.toString("utf8") : typeof raw === "string" ? raw : undefined;
}

/** Reads the body (null when it is too large); a repeated parameter keeps all its values. */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString("utf8");
}

function formParams(req: IncomingMessage, body: string): WebhookParams {
  const type = header(req, "content-type") ?? "";
  if (req.method !== "POST" || !type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return {};
  const params: WebhookParams = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = params[name];
    params[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return params;
}
