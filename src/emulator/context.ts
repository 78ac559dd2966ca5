/** What a route's handler gets: validated parameters, the authenticated caller, and the state to act on. */
import type { Access, Principal, RouteAccess } from "./auth.js";
import type { EmulatorBehaviour } from "./behaviour.js";
import { invalidFriendlyName } from "./errors.js";
import type { RequestParams } from "./params.js";
import type { HttpMethod, Operation, SpecName, TwilioSpecs } from "./spec.js";
import type { EmulatorState } from "./state.js";
import type { EmulatorWebhooks } from "./webhooks/controller.js";

export interface RequestContext {
  readonly state: EmulatorState;
  readonly specs: TwilioSpecs;
  readonly op: Operation;
  readonly principal: Principal;
  /** The Twilio Region the request was meant for (see region.ts); credentials and keys live in one. */
  readonly region: string;
  readonly behaviour: EmulatorBehaviour;
  readonly params: RequestParams;
  /** The request's path, for 404 messages. */
  readonly path: string;
  /**
   * Origin for the absolute URLs v1 APIs return: this emulator's (`http://127.0.0.1:4010`), or for a
   * request meant for a regional host, that host (`https://iam.dublin.ie1.twilio.com`) as Twilio answers.
   */
  readonly origin: string;
  /** Phone numbers and the webhooks they and messages send. */
  readonly webhooks: EmulatorWebhooks;
  /** Propagation delay to give a key this request creates (from key-activation-delay faults). */
  keyActivationDelayMs(): number;
}

export interface RouteDefinition extends RouteAccess {
  spec: SpecName;
  /** The path exactly as the spec writes it, e.g. `/2010-04-01/Accounts/{AccountSid}/Keys.json`. */
  path: string;
  method: HttpMethod;
  access: Access;
  /** True for the few endpoints Twilio opens to test credentials; others answer them 403 (20008). */
  testCredentials?: boolean;
  /**
   * The account the request acts on; the caller must reach it (auth.ts requireScope). Throws 404 itself when the
   * target is found through a resource that does not exist (a key by SID on iam v1).
   */
  target(ctx: RequestContext): string;
  /** Returns the response body before shaping (undefined for 204). */
  handle(ctx: RequestContext): unknown;
}

/** Twilio's FriendlyName rule (error 20002): 1 to 64 characters when given. */
export function friendlyName(value: string | undefined): string | undefined {
  if (value !== undefined && (value.length < 1 || value.length > 64)) throw invalidFriendlyName();
  return value;
}
