/**
 * Counters of the API traffic the emulator served, for benchmarks ("how many requests, how many 429s").
 * Admin requests (/__emulator/...) are not counted. Kept apart from the snapshot, which must not change
 * on reads.
 */
export interface EmulatorStats {
  /** API requests received, whatever their answer. */
  requests: number;
  /** Answers by HTTP status, e.g. `{"200": 950, "429": 50}`. */
  responses: Record<string, number>;
  /** 429s sent by the `rateLimit` limiter (fault-injected 429s are only in `responses`). */
  rateLimited: number;
  /** Requests whose answer a lost-response fault dropped. */
  dropped: number;
}

export class StatsCounter {
  requests = 0;
  rateLimited = 0;
  dropped = 0;
  readonly #byStatus = new Map<number, number>();

  answered(status: number): void {
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
  }

  view(): EmulatorStats {
    const responses: Record<string, number> = {};
    for (const [status, count] of [...this.#byStatus].sort((a, b) => a[0] - b[0])) responses[status] = count;
    return { requests: this.requests, responses, rateLimited: this.rateLimited, dropped: this.dropped };
  }

  reset(): void {
    this.requests = 0;
    this.rateLimited = 0;
    this.dropped = 0;
    this.#byStatus.clear();
  }
}
