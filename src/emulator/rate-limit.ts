/**
 * Request-rate and concurrency limits, answered the way Twilio answers throttling: 429 with code 20429
 * ("Too Many Requests"; an API request that receives it "is never processed and is always safe to retry",
 * https://www.twilio.com/docs/errors/20429) and a `Retry-After` in whole seconds.
 *
 * Twilio's documented limit is on concurrent requests per account (20429's page, and the
 * `Twilio-Concurrent-Requests` header named in twilio-api.md). Benchmarks of fleets need "R requests per
 * second" instead, so the primary knob is a token bucket: `requestsPerSecond` tokens a second, up to
 * `burst` banked (default: one second's worth). `maxConcurrentRequests` adds Twilio's own kind of limit.
 * Both count per account (the account the request's credentials name, checked before authentication,
 * as a front door would) unless `scope` is `global`.
 */
import * as z from "zod";
import { type TwilioError, tooManyRequests } from "./errors.js";

export const rateLimitSchema = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests that may arrive at once after a quiet spell; default one second's worth. */
  burst: z.int().positive().optional(),
  scope: z.enum(["account", "global"]).default("account"),
  maxConcurrentRequests: z.int().positive().optional(),
});

export type RateLimitInput = z.input<typeof rateLimitSchema>;
type RateLimit = z.output<typeof rateLimitSchema>;

interface Bucket {
  tokens: number;
  updatedMs: number;
  inFlight: number;
}

/** A request admitted by the limiter; `release()` must be called once it has been answered. */
export interface Admission {
  /** Requests of this key in flight, this one included (what Twilio-Concurrent-Requests reports). */
  concurrent: number;
  release(): void;
}

export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => number;

  constructor(input: RateLimitInput, clock: () => number = () => performance.now()) {
    const parsed = rateLimitSchema.safeParse(input);
    if (!parsed.success) throw new Error(`twilio emulator: invalid rateLimit: ${z.prettifyError(parsed.error)}`);
    this.#limit = parsed.data;
    this.#burst = parsed.data.burst ?? Math.max(1, Math.ceil(parsed.data.requestsPerSecond));
    this.#clock = clock;
  }

  /** Admits a request of `accountSid` or throws the 429 to answer it with (nothing is counted then). */
  admit(accountSid: string): Admission {
    const key = this.#limit.scope === "global" ? "*" : accountSid;
    const now = this.#clock();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.#burst, updatedMs: now, inFlight: 0 };
      this.#buckets.set(key, bucket);
    }
    const rate = this.#limit.requestsPerSecond;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * rate);
    bucket.updatedMs = now;
    const max = this.#limit.maxConcurrentRequests;
    if (max !== undefined && bucket.inFlight >= max) throw tooManyRequests(1);
    if (bucket.tokens < 1) throw this.#throttled((1 - bucket.tokens) / rate);
    bucket.tokens -= 1;
    bucket.inFlight++;
    const held = bucket;
    let released = false;
    return {
      concurrent: held.inFlight,
      release: () => {
        if (released) return;
        released = true;
        held.inFlight--;
      },
    };
  }

  /** Retry-After is whole seconds (RFC 9110), so a wait under a second still says 1. */
  #throttled(waitSeconds: number): TwilioError {
    return tooManyRequests(Math.max(1, Math.ceil(waitSeconds)));
  }
}
