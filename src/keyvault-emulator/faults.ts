/**
 * Fault injection, as the Twilio emulator has it: throttling with Retry-After, server errors, latency, refused
 * writes, connections that break before or after the vault acted, and a corrupted secret value in an answer. Each fault matches requests by method
 * and path (a glob: `*` within a segment, `**` across) and may stop after `times` firings; it counts how often
 * it fired, so a test can assert that a retry happened. The controller itself (matching, ids, counts) is the
 * server kit's (src/server-kit/faults.ts); this file holds the Key Vault kinds and their effects.
 *
 * Faults look only at requests that carry a bearer token: the SDK's first request of a client is a token-less
 * probe for the authentication challenge, and a fault meant for the operation must not be used up on it.
 *
 * When each kind acts:
 * - rate-limit, server-error, latency, reset: before authentication, so the vault's state never changes;
 * - refuse-writes: where the caller's permissions are checked (403 Forbidden, ForbiddenByRbac);
 * - drop-response: after the operation took effect: the connection closes instead of the answer;
 * - corrupt-value: in the answer only (the vault's state is untouched), as a corrupting middlebox would: one
 *   character of the secret bundle's `value` is changed (see corruptOne). It fires only on answers that carry
 *   a value (a get or a set), so match it to `GET` and the version's path to corrupt reads of one version.
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

const METHODS = ["GET", "PUT", "PATCH", "POST", "DELETE"] as const;
const WRITE_METHODS: readonly string[] = ["PUT", "PATCH", "POST", "DELETE"];

/** Any method when absent (refuse-writes: any writing method). */
const match = faultMatchFields(METHODS);

export const faultSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("rate-limit"), ...match, retryAfterSeconds: z.int().nonnegative().default(1) }),
  z.strictObject({
    kind: z.literal("server-error"),
    ...match,
    status: z.union([z.literal(500), z.literal(502), z.literal(503)]).default(503),
  }),
  z.strictObject({ kind: z.literal("latency"), ...match, latencyMs: z.int().min(0).max(120_000) }),
  z.strictObject({ kind: z.literal("reset"), ...match }),
  z.strictObject({ kind: z.literal("refuse-writes"), ...match }),
  z.strictObject({ kind: z.literal("drop-response"), ...match }),
  z.strictObject({
    kind: z.literal("corrupt-value"),
    ...match,
    /** Which character (UTF-16 index into the value) to change; the middle one when absent. */
    offset: z.int().nonnegative().optional(),
  }),
]);

export type FaultInput = z.input<typeof faultSchema>;
type FaultSpec = z.output<typeof faultSchema>;
export type FaultKind = FaultSpec["kind"];

export interface FaultView {
  id: string;
  kind: FaultKind;
  method?: string;
  path?: string;
  fired: number;
  remaining: number | null;
}

/** What the faults do to a request before authentication. */
export interface EarlyEffects {
  latencyMs: number;
  /** Answer 429 with this Retry-After, or a 5xx, or cut the connection. */
  answer:
    | { kind: "rate-limit"; retryAfterSeconds: number }
    | { kind: "server-error"; status: 500 | 502 | 503 }
    | { kind: "reset" }
    | undefined;
}

export class Faults extends FaultRegistry<FaultSpec, FaultView, FaultInput> {
  constructor() {
    super(faultSchema, {
      pattern: pathPattern,
      view,
      anyMethod: (spec, method) => spec.kind !== "refuse-writes" || WRITE_METHODS.includes(method),
    });
  }

  /** Latencies add up; of the answering faults, the first added that matches answers. */
  early(method: string, path: string): EarlyEffects {
    const effects: EarlyEffects = { latencyMs: 0, answer: undefined };
    for (const fault of this.matching(method, path)) {
      const { spec } = fault;
      if (spec.kind === "latency") {
        effects.latencyMs += spec.latencyMs;
      } else if (spec.kind === "rate-limit" && effects.answer === undefined) {
        effects.answer = { kind: "rate-limit", retryAfterSeconds: spec.retryAfterSeconds };
      } else if (spec.kind === "server-error" && effects.answer === undefined) {
        effects.answer = { kind: "server-error", status: spec.status };
      } else if (spec.kind === "reset" && effects.answer === undefined) {
        effects.answer = { kind: "reset" };
      } else {
        continue;
      }
      fault.fired++;
    }
    return effects;
  }

  /** Whether a refuse-writes fault refuses this request (it counts as fired). */
  refusesWrite(method: string, path: string): boolean {
    return this.fire("refuse-writes", method, path) !== undefined;
  }

  /** Whether the answer to this request is to be lost (it counts as fired). */
  dropsResponse(method: string, path: string): boolean {
    return this.fire("drop-response", method, path) !== undefined;
  }

  /**
   * The value an answer to this request carries, corrupted if a corrupt-value fault matches (it counts as
   * fired), else as it was.
   */
  corruptValue(method: string, path: string, value: string): string {
    const spec = this.fire("corrupt-value", method, path);
    return spec?.kind === "corrupt-value" ? corruptOne(value, spec.offset) : value;
  }
}

/**
 * The text with one character changed, at `offset` (the middle one by default; the last one past the end): a
 * letter or digit becomes the next of its kind (z to a, Z to A, 9 to 0), so a JSON value stays readable
 * JSON holding a different secret, the dangerous case; any other character becomes "#". Empty text stays empty.
 */
export function corruptOne(text: string, offset?: number): string {
  if (text === "") return text;
  const at = Math.min(offset ?? Math.floor(text.length / 2), text.length - 1);
  const char = text[at]!;
  const next = (first: string, last: string) => (char === last ? first : String.fromCharCode(char.charCodeAt(0) + 1));
  const replaced = /[a-z]/.test(char)
    ? next("a", "z")
    : /[A-Z]/.test(char)
      ? next("A", "Z")
      : /[0-9]/.test(char)
        ? next("0", "9")
        : "#";
  return text.slice(0, at) + replaced + text.slice(at + 1);
}

function view(fault: ActiveFault<FaultSpec>): FaultView {
  const { spec } = fault;
  return {
    id: fault.id,
    kind: spec.kind,
    ...(spec.method === undefined ? {} : { method: spec.method }),
    ...(spec.path === undefined ? {} : { path: spec.path instanceof RegExp ? spec.path.source : spec.path }),
    fired: fault.fired,
    remaining: remaining(fault),
  };
}

function pathPattern(spec: FaultSpec): RegExp | undefined {
  if (spec.path instanceof RegExp) return statelessRegExp(spec.path);
  if (spec.path === undefined) return undefined;
  // Key Vault names are case-insensitive, and so are the paths a fault names.
  return globToRegExp(spec.path, "i");
}
