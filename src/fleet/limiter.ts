/**
 * Pacing a fleet against Twilio's limits: how many accounts rotate at once, and how fast requests go.
 *
 * - Rate: a token bucket (GCRA) at `rate` requests per second, never above the configured
 *   `accounts.requestsPerSecond`, with a small burst, so the fleet stays under the configured rate.
 * - A 429 (Twilio's 20429: "never processed and always safe to retry"): every request of the fleet waits
 *   until its Retry-After has passed (one shared pause), and, once per pause, the rate drops to 70 % of what
 *   was admitted over the last second and the number of accounts at once halves (multiplicative decrease).
 * - A second without a 429: the rate climbs back by 5 % of its cap (or 10 % of itself when no cap is
 *   configured) and one more account may start, up to `concurrency` (additive increase).
 *
 * Time is injectable (`now`, `sleep`) so the unit tests drive it without waiting.
 */
import type { RequestThrottle } from "../twilio/client.js";

export interface LimiterOptions {
  /** The configured ceiling, in requests per second; none: paced only by 429s. */
  requestsPerSecond?: number | undefined;
  /** The most accounts at once. */
  concurrency: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface LimiterStats {
  /** Requests admitted. */
  requests: number;
  /** 429 answers heard. */
  throttled: number;
  /** Times the limiter slowed down (at most once per pause). */
  decreases: number;
  /** The lowest concurrency and rate it went down to. */
  lowestConcurrency: number;
  lowestRate: number | null;
}

const DEFAULT_RETRY_AFTER_MS = 1_000;
const WINDOW_MS = 1_000;

export class AdaptiveLimiter implements RequestThrottle {
  readonly #cap: number | undefined;
  readonly #maxConcurrency: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #rate: number | undefined;
  #concurrency: number;
  /** GCRA: the theoretical arrival time of the next request. */
  #tat = 0;
  #pausedUntil = 0;
  #lastDecrease = Number.NEGATIVE_INFINITY;
  #lastChange: number;
  /** Admissions in the current and the previous window, for "what was admitted over the last second". */
  #windowStart: number;
  #windowCount = 0;
  #previousWindowCount = 0;
  readonly #stats: LimiterStats;

  constructor(options: LimiterOptions) {
    this.#cap = options.requestsPerSecond;
    this.#rate = options.requestsPerSecond;
    this.#maxConcurrency = options.concurrency;
    this.#concurrency = options.concurrency;
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#lastChange = this.#now();
    this.#windowStart = this.#lastChange;
    this.#stats = {
      requests: 0,
      throttled: 0,
      decreases: 0,
      lowestConcurrency: options.concurrency,
      lowestRate: options.requestsPerSecond ?? null,
    };
  }

  /** How many accounts may rotate at once now. */
  get concurrency(): number {
    this.#recover();
    return this.#concurrency;
  }

  /** The request rate now, or undefined while nothing limits it. */
  get rate(): number | undefined {
    return this.#rate;
  }

  stats(): LimiterStats {
    return { ...this.#stats };
  }

  async acquire(): Promise<void> {
    for (;;) {
      const now = this.#now();
      this.#recover();
      if (now < this.#pausedUntil) {
        await this.#sleep(this.#pausedUntil - now);
        continue;
      }
      const rate = this.#rate;
      if (rate !== undefined) {
        const interval = 1000 / rate;
        // A small burst (a tenth of a second's worth): enough to keep requests flowing, never enough to
        // overshoot a server bucket of the same rate.
        const tolerance = Math.max(interval, 100);
        // Reserve the slot now, so waiters queue in order instead of racing when they wake.
        const at = Math.max(this.#tat, now);
        this.#tat = at + interval;
        const waitMs = at - tolerance - now;
        if (waitMs > 0) await this.#sleep(waitMs);
        // A 429 came while we waited: the pause holds this request too.
        if (this.#now() < this.#pausedUntil) continue;
      }
      break;
    }
    this.#count();
  }

  answered(status: number, retryAfterMs: number | undefined): void {
    if (status !== 429) return;
    this.#stats.throttled += 1;
    const now = this.#now();
    const pause = retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    this.#pausedUntil = Math.max(this.#pausedUntil, now + pause);
    this.#lastChange = this.#pausedUntil;
    // One decrease per pause: the 429s of requests already in flight say the same thing again.
    if (now < this.#lastDecrease + Math.max(pause, WINDOW_MS)) return;
    this.#lastDecrease = now;
    this.#stats.decreases += 1;
    const admitted = this.#admittedPerSecond(now);
    const base = this.#rate === undefined ? admitted : Math.min(this.#rate, Math.max(admitted, 1));
    this.#rate = Math.max(1, base * 0.7);
    this.#concurrency = Math.max(1, Math.floor(this.#concurrency / 2));
    this.#stats.lowestConcurrency = Math.min(this.#stats.lowestConcurrency, this.#concurrency);
    this.#stats.lowestRate = Math.min(this.#stats.lowestRate ?? this.#rate, this.#rate);
    // The bucket restarts from the pause: what was reserved before it no longer counts.
    this.#tat = this.#pausedUntil;
  }

  /** Additive increase, once a second without a 429. */
  #recover(): void {
    const now = this.#now();
    while (now - this.#lastChange >= WINDOW_MS) {
      this.#lastChange += WINDOW_MS;
      if (this.#concurrency < this.#maxConcurrency) this.#concurrency += 1;
      if (this.#rate !== undefined && this.#rate !== this.#cap) {
        const step = this.#cap === undefined ? this.#rate * 0.1 : this.#cap * 0.05;
        const next = this.#rate + Math.max(1, step);
        this.#rate = this.#cap === undefined ? next : Math.min(this.#cap, next);
      }
    }
  }

  #count(): void {
    const now = this.#now();
    this.#roll(now);
    this.#windowCount += 1;
    this.#stats.requests += 1;
  }

  #roll(now: number): void {
    if (now - this.#windowStart < WINDOW_MS) return;
    const windows = Math.floor((now - this.#windowStart) / WINDOW_MS);
    this.#previousWindowCount = windows === 1 ? this.#windowCount : 0;
    this.#windowCount = 0;
    this.#windowStart += windows * WINDOW_MS;
  }

  /** Requests admitted over the last second (the current window, topped up from the previous one). */
  #admittedPerSecond(now: number): number {
    this.#roll(now);
    const into = (now - this.#windowStart) / WINDOW_MS;
    return this.#windowCount + this.#previousWindowCount * (1 - into);
  }
}
