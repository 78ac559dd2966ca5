/**
 * How the consumer library's reads of its store went: counted for `status()`, reported to the app's callback,
 * and spaced out while they fail. An app keeps calling Twilio with the credential it read last while its
 * store is unreachable; this is what tells its operators that the store is, and since when.
 */
import { errorMessage } from "../errors.js";
import { redact } from "../util/mask.js";

/** What `status()` says about the store. */
export interface StoreReadStatus {
  /** Reads that failed or passed their deadline since the app started. */
  readFailures: number;
  /** Failed reads since the last good one: 0 while the store answers. */
  consecutiveFailures: number;
  /** When a read last succeeded (ISO 8601); absent before the first. */
  lastReadAt?: string;
  /** What the last failed read said (never a secret); absent once a read succeeds again. */
  lastError?: string;
}

/** One failed read, as `onStoreReadFailure` reports it. */
export interface StoreReadFailure {
  /** The store's name, as in its entry. */
  store: string;
  /** What went wrong (never a secret). */
  message: string;
  /** The read passed its deadline (the store did not answer), rather than failing. */
  timedOut: boolean;
  consecutiveFailures: number;
  /** Whether the app goes on with a credential read earlier (false: it has none yet, so the call fails). */
  servingCached: boolean;
  at: Date;
}

/** A read that did not settle within its deadline. */
export class StoreReadTimeout extends Error {
  override readonly name = "StoreReadTimeout";
}

/** The longest pause between background reads of a store that keeps failing. */
const MAX_RETRY_DELAY_MS = 30_000;

export class StoreReads {
  #failures = 0;
  #consecutive = 0;
  #lastReadAt: Date | undefined;
  #lastError: string | undefined;
  /** No background read starts before this time (epoch ms): the TTL after a read, a growing pause after failures. */
  #nextReadAt = 0;

  constructor(
    private readonly store: string,
    private readonly ttlMs: number,
    private readonly onFailure: ((event: StoreReadFailure) => void) | undefined,
  ) {}

  get failures(): number {
    return this.#failures;
  }

  /** Whether the cached credential is due for a background re-read. */
  due(now = Date.now()): boolean {
    return now >= this.#nextReadAt;
  }

  succeeded(): void {
    this.#consecutive = 0;
    this.#lastError = undefined;
    this.#lastReadAt = new Date();
    this.#nextReadAt = Date.now() + this.ttlMs;
  }

  failed(error: unknown, servingCached: boolean): void {
    this.#failures += 1;
    this.#consecutive += 1;
    const message = redact(errorMessage(error));
    this.#lastError = message;
    // 1 s, 2 s, 4 s ... up to 30 s, never longer than the TTL: a store back up is seen soon, a store down is
    // not asked on every Twilio call.
    this.#nextReadAt = Date.now() + Math.min(this.ttlMs, 1000 * 2 ** (this.#consecutive - 1), MAX_RETRY_DELAY_MS);
    if (this.onFailure === undefined) return;
    try {
      this.onFailure({
        store: this.store,
        message,
        timedOut: error instanceof StoreReadTimeout,
        consecutiveFailures: this.#consecutive,
        servingCached,
        at: new Date(),
      });
    } catch {
      // An app's monitoring must never turn a store read into another error.
    }
  }

  status(): StoreReadStatus {
    return {
      readFailures: this.#failures,
      consecutiveFailures: this.#consecutive,
      ...(this.#lastReadAt === undefined ? {} : { lastReadAt: this.#lastReadAt.toISOString() }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }
}

/**
 * `promise`, or a StoreReadTimeout once `ms` have passed. The read itself goes on (a provider's SDK call cannot
 * always be cancelled); what it answers late is dropped.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreReadTimeout(`${what} did not answer within ${ms / 1000} s`)), ms);
    // A pending read of a store must not keep an app that is done from exiting.
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
