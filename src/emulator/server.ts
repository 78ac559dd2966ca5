/**
 * The HTTP front: one node:http listener for all three Twilio hosts (their paths do not collide), in every
 * Region (the host a request was meant for arrives in `X-Forwarded-Host`, see region.ts).
 *
 * Order of checks per request, as Twilio appears to apply them: the rate limit (429, counted against the
 * account the credentials name, or globally), injected faults, routing (404/405), authentication (401),
 * the credential's kind (401, or 403 for test credentials), parameters (400, or 404 for a malformed SID
 * in the path), the account scope (401), and finally the operation itself, whose answer a lost-response
 * fault may still swallow. A 429 therefore never changes state. A request counts as in flight (for
 * `maxConcurrentRequests`) from admission until answered, latency faults included.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createListener, readBody, sendJson } from "../server-kit/listener.js";
import { authenticate, authorize, claimedAccount, requireScope } from "./auth.js";
import type { EmulatorBehaviour } from "./behaviour.js";
import type { RequestContext } from "./context.js";
import { serverError, TwilioError } from "./errors.js";
import type { Faults } from "./faults.js";
import { validateParams } from "./params.js";
import type { Admission, RateLimiter } from "./rate-limit.js";
import { DEFAULT_REGION, requestedTwilioHost, type TwilioHost } from "./region.js";
import type { Router } from "./router.js";
import type { TwilioSpecs } from "./spec.js";
import type { EmulatorState } from "./state.js";
import type { StatsCounter } from "./stats.js";
import type { EmulatorWebhooks } from "./webhooks/controller.js";

/** Far above any form Twilio accepts; only here so a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerDeps {
  state: EmulatorState;
  specs: TwilioSpecs;
  router: Router;
  faults: Faults;
  behaviour: EmulatorBehaviour;
  limiter: RateLimiter | undefined;
  stats: StatsCounter;
  webhooks: EmulatorWebhooks;
  /** Aborted on close, so requests held by latency faults do not keep the process alive. */
  closing: AbortSignal;
  /** The listener's own origin, used when a request carries no usable Host header. */
  origin(): string;
  admin(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void;
}

/** The emulator's HTTP server (not yet listening). */
export function createRequestListener(deps: ServerDeps): Server {
  return createListener({
    handle: (req, res) => handle(deps, req, res),
    // Only reachable when the socket failed or the emulator closed mid-request.
    onUncaught: (res, error) => sendError(res, internal(error)),
  });
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://emulator.invalid");
  const path = url.pathname;
  const method = (req.method ?? "GET").toUpperCase();
  let body: string;
  try {
    body = await readBody(req, MAX_BODY_BYTES, () => new TwilioError(413, 20001, "Request body too large"));
  } catch (error) {
    sendError(res, error instanceof TwilioError ? error : internal(error));
    return;
  }
  if (path === "/__emulator" || path.startsWith("/__emulator/")) {
    deps.admin(req, res, url, body);
    return;
  }
  const { stats, limiter } = deps;
  stats.requests++;
  let admission: Admission | undefined;
  try {
    if (limiter) {
      try {
        admission = limiter.admit(claimedAccount(req.headers.authorization, deps.state) ?? "anonymous");
      } catch (error) {
        stats.rateLimited++;
        throw error;
      }
    }
    const effects = deps.faults.onRequest(method, path);
    if (effects.latencyMs > 0) await sleep(effects.latencyMs, undefined, { signal: deps.closing });
    if (effects.error) throw effects.error;

    const host = requestedTwilioHost(req.headers);
    const region = host?.region ?? DEFAULT_REGION;
    const { route, pathParams } = deps.router.match(method, path);
    const principal = authenticate(req.headers.authorization, deps.state, region, deps.behaviour);
    authorize(principal, route.def);
    const form = isForm(req) ? new URLSearchParams(body) : new URLSearchParams();
    const params = validateParams(route.op, { path: pathParams, query: url.searchParams, body: form }, path);
    const ctx: RequestContext = {
      state: deps.state,
      specs: deps.specs,
      op: route.op,
      principal,
      region,
      behaviour: deps.behaviour,
      params,
      path,
      origin: originOf(req, host, deps),
      webhooks: deps.webhooks,
      keyActivationDelayMs: () => deps.faults.keyActivationDelayMs(method, path),
    };
    requireScope(principal, route.def.target(ctx), route.def, deps.state, deps.behaviour);
    const result = route.def.handle(ctx);
    const lost = deps.faults.onSuccess(method, path);
    if (lost?.drop) {
      // The work is done; the caller just never hears of it.
      stats.dropped++;
      res.destroy();
      return;
    }
    if (lost) throw lost.error;
    const headers = concurrencyHeader(admission);
    if (route.op.responseSchema === undefined) {
      res.writeHead(route.op.successStatus, headers).end();
      stats.answered(route.op.successStatus);
    } else {
      sendJson(res, route.op.successStatus, deps.specs.shape(route.op, result), headers);
      stats.answered(route.op.successStatus);
    }
  } catch (error) {
    if (deps.closing.aborted) {
      res.destroy();
      return;
    }
    const answer = error instanceof TwilioError ? error : internal(error);
    sendError(res, answer, concurrencyHeader(admission));
    stats.answered(answer.status);
  } finally {
    admission?.release();
  }
}

/** Twilio reports an account's concurrent requests in this header; sent when a limiter counts them. */
function concurrencyHeader(admission: Admission | undefined): Record<string, string> {
  return admission ? { "Twilio-Concurrent-Requests": String(admission.concurrent) } : {};
}

function sendError(res: ServerResponse, error: TwilioError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, error.body(), { ...headers, ...error.headers });
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

/**
 * The origin for absolute URLs, so `next_page_url`s lead back to the same place. A request meant for a
 * regional host gets that host, as from Twilio: the official client re-applies its region and edge to
 * every URL it requests, which would mangle an IP origin (`127.0.0.1` -> `127.dublin.ie1.0.1`), and the
 * emulator-aware client rewrites a Twilio host back here anyway.
 */
function originOf(req: IncomingMessage, twilioHost: TwilioHost | undefined, deps: ServerDeps): string {
  if (twilioHost?.explicit) return `https://${twilioHost.host}`;
  const host = req.headers.host;
  return host !== undefined && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(host)
    ? `http://${host}`
    : deps.origin();
}
