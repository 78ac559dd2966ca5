/**
 * Fault injection for tests: throttling, server errors, latency, keys that take a while to start
 * authenticating (Twilio does not document how fast a new key propagates, so the engine must cope with
 * either), and lost responses: the request is carried out but its answer never arrives (the connection
 * drops) or arrives as a 5xx, the case where a caller cannot tell whether a promotion happened. Each fault matches requests by method and path and may stop after `times` firings; it counts
 * how often it fired, so a test can assert that a retry happened. The controller itself (matching, ids,
 * counts) is the server kit's (src/server-kit/faults.ts); this file holds the Twilio kinds and their effects.
 */
import * as z from "zod";
import {
  type ActiveFault,
  FaultRegistry,
  faultMatchFields,
  globToRegExp,
  remaining,
  statelessRegExp,
} from "../server-kit/faults.js";
import { serverError, type TwilioError, tooManyRequests } from "./errors.js";

export { globToRegExp };

const match = {
  ...faultMatchFields(["GET", "POST", "DELETE"]),
  /** A regular expression tested against the path (for JSON callers, who cannot send a RegExp). */
  pathRegex: z.string().optional(),
};

export const faultSchema = z
  .discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("rate-limit"), ...match, retryAfterSeconds: z.int().nonnegative().optional() }),
    z.strictObject({
      kind: z.literal("server-error"),
      ...match,
      status: z.union([z.literal(500), z.literal(502), z.literal(503)]),
      code: z.int().positive().optional(),
      message: z.string().min(1).optional(),
    }),
    z.strictObject({ kind: z.literal("latency"), ...match, latencyMs: z.int().min(0).max(120_000) }),
    z.strictObject({ kind: z.literal("key-activation-delay"), ...match, delayMs: z.int().min(0).max(3_600_000) }),
    z.strictObject({
      kind: z.literal("lost-response"),
      ...match,
      /** Answer this 5xx after doing the work; without it the connection is dropped with no answer. */
      status: z.union([z.literal(500), z.literal(502), z.literal(503)]).optional(),
    }),
  ])
  .refine((f) => f.path === undefined || f.pathRegex === undefined, "give path or pathRegex, not both")
  .refine((f) => f.pathRegex === undefined || compiles(f.pathRegex), "pathRegex is not a valid regular expression");

/** What a caller passes to `faults.add` (or POSTs as JSON to /__emulator/faults). */
export type FaultInput = z.input<typeof faultSchema>;
type FaultSpec = z.output<typeof faultSchema>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A fault as reported back: JSON-safe (a RegExp path shows as `pathRegex`), with its firing count. */
export type FaultView = DistributiveOmit<FaultSpec, "path"> & {
  id: string;
  path?: string;
  /** How many requests (for key-activation-delay, created keys; for lost-response, successes) it affected. */
  fired: number;
  /** Firings left, or null when unlimited. */
  remaining: number | null;
};

export interface FaultController {
  /** Validates and adds a fault; throws an Error naming the problem when the input is invalid. */
  add(fault: FaultInput): FaultView;
  list(): FaultView[];
  get(id: string): FaultView | undefined;
  remove(id: string): boolean;
  clear(): void;
}

/** What a lost-response fault does to a request that succeeded: drop the connection, or answer a 5xx. */
export type LostResponse = { drop: true } | { drop: false; error: TwilioError };

/** What the faults do to one request: wait first, then maybe answer with an error instead of the API. */
export interface FaultEffects {
  latencyMs: number;
  error: TwilioError | undefined;
}

export class Faults extends FaultRegistry<FaultSpec, FaultView, FaultInput> implements FaultController {
  constructor() {
    super(faultSchema, { pattern: pathPattern, view });
  }

  /**
   * Latency faults add up; of the error faults, the first added that matches answers the request. Only
   * faults that took effect count as fired.
   */
  onRequest(method: string, path: string): FaultEffects {
    const effects: FaultEffects = { latencyMs: 0, error: undefined };
    for (const fault of this.matching(method, path)) {
      const { spec } = fault;
      if (spec.kind === "latency") {
        effects.latencyMs += spec.latencyMs;
      } else if (spec.kind === "rate-limit" && !effects.error) {
        effects.error = tooManyRequests(spec.retryAfterSeconds);
      } else if (spec.kind === "server-error" && !effects.error) {
        effects.error = serverError(spec.status, spec.code, spec.message);
      } else {
        continue;
      }
      fault.fired++;
    }
    return effects;
  }

  /** The activation delay for a key being created by this request (first matching fault), in ms. */
  keyActivationDelayMs(method: string, path: string): number {
    const spec = this.fire("key-activation-delay", method, path);
    return spec?.kind === "key-activation-delay" ? spec.delayMs : 0;
  }

  /**
   * Called once the operation has succeeded (its effect is in the state): the first matching
   * lost-response fault decides what becomes of the answer. Failed operations are answered as they are.
   */
  onSuccess(method: string, path: string): LostResponse | undefined {
    const spec = this.fire("lost-response", method, path);
    if (spec?.kind !== "lost-response") return undefined;
    return spec.status === undefined ? { drop: true } : { drop: false, error: serverError(spec.status) };
  }
}

function view(fault: ActiveFault<FaultSpec>): FaultView {
  const { path, ...rest } = fault.spec;
  const shown: { path?: string; pathRegex?: string } = {};
  if (typeof path === "string") shown.path = path;
  if (path instanceof RegExp) shown.pathRegex = path.source;
  return { ...rest, ...shown, id: fault.id, fired: fault.fired, remaining: remaining(fault) };
}

function pathPattern(spec: FaultSpec): RegExp | undefined {
  if (spec.path instanceof RegExp) return statelessRegExp(spec.path);
  if (spec.pathRegex !== undefined) return new RegExp(spec.pathRegex);
  if (spec.path === undefined) return undefined;
  return globToRegExp(spec.path);
}

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
