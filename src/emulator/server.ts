/**
 * The HTTP front: one node:http listener for all three Twilio hosts (their paths do not collide).
 *
 * Order of checks per request, as Twilio appears to apply them: injected faults, then routing (404/405),
 * authentication and the credential's kind (401), parameters (400, or 404 for a malformed SID in the
 * path), the account scope (401), and finally the operation itself.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { authenticate, authorize, requireScope } from "./auth.js";
import type { RequestContext } from "./context.js";
import { serverError, TwilioError } from "./errors.js";
import type { Faults } from "./faults.js";
import { validateParams } from "./params.js";
import type { Router } from "./router.js";
import type { TwilioSpecs } from "./spec.js";
import type { EmulatorState } from "./state.js";

/** Far above any form Twilio accepts; only here so a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerDeps {
  state: EmulatorState;
  specs: TwilioSpecs;
  router: Router;
  faults: Faults;
  /** Aborted on close, so requests held by latency faults do not keep the process alive. */
  closing: AbortSignal;
  /** The listener's own origin, used when a request carries no usable Host header. */
  origin(): string;
  admin(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void;
}

export function createRequestListener(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(deps, req, res).catch((error: unknown) => {
      // Only reachable when the socket failed or the emulator closed mid-request; nothing left to answer.
      if (!res.headersSent && !res.destroyed) sendError(res, internal(error));
    });
  };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://emulator.invalid");
  const path = url.pathname;
  const method = (req.method ?? "GET").toUpperCase();
  let body: string;
  try {
    body = await readBody(req);
  } catch (error) {
    sendError(res, error instanceof TwilioError ? error : internal(error));
    return;
  }
  if (path === "/__emulator" || path.startsWith("/__emulator/")) {
    deps.admin(req, res, url, body);
    return;
  }
  try {
    const effects = deps.faults.onRequest(method, path);
    if (effects.latencyMs > 0) await sleep(effects.latencyMs, undefined, { signal: deps.closing });
    if (effects.error) throw effects.error;

    const { route, pathParams } = deps.router.match(method, path);
    const principal = authenticate(req.headers.authorization, deps.state);
    authorize(principal, route.def.access);
    const form = isForm(req) ? new URLSearchParams(body) : new URLSearchParams();
    const params = validateParams(route.op, { path: pathParams, query: url.searchParams, body: form }, path);
    const ctx: RequestContext = {
      state: deps.state,
      specs: deps.specs,
      op: route.op,
      principal,
      params,
      path,
      origin: originOf(req, deps),
      keyActivationDelayMs: () => deps.faults.keyActivationDelayMs(method, path),
    };
    requireScope(principal, route.def.target(ctx), deps.state);
    const result = route.def.handle(ctx);
    if (route.op.responseSchema === undefined) {
      res.writeHead(route.op.successStatus).end();
    } else {
      sendJson(res, route.op.successStatus, deps.specs.shape(route.op, result));
    }
  } catch (error) {
    if (deps.closing.aborted) {
      res.destroy();
      return;
    }
    sendError(res, error instanceof TwilioError ? error : internal(error));
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      ...headers,
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
    })
    .end(text);
}

function sendError(res: ServerResponse, error: TwilioError): void {
  sendJson(res, error.status, error.body(), { ...error.headers });
}

/** An emulator bug: answer like Twilio's 500 and say what broke on stderr (messages never hold secrets). */
function internal(error: unknown): TwilioError {
  process.stderr.write(`twilio emulator: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  return serverError(500);
}

function isForm(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return type === undefined || type.toLowerCase().startsWith("application/x-www-form-urlencoded");
}

/** The origin the client used, so absolute `next_page_url`s lead back to the same place. */
function originOf(req: IncomingMessage, deps: ServerDeps): string {
  const host = req.headers.host;
  return host !== undefined && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(host)
    ? `http://${host}`
    : deps.origin();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // An oversized body is still read to the end (and dropped): answering mid-upload would reset the
  // connection and the client would see a socket error instead of the 413.
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= MAX_BODY_BYTES) chunks.push(buffer);
  }
  if (size > MAX_BODY_BYTES) throw new TwilioError(413, 20001, "Request body too large");
  return Buffer.concat(chunks).toString("utf8");
}
