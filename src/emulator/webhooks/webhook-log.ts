/**
 * What became of every webhook the emulator sent: accepted (the receiver answered 2xx), rejected (any
 * other status: a 403 from a signature check, a 500...), or failed (no answer: refused, reset, timed
 * out). Counted in all and per URL, for tests and the sandbox's summary; the last deliveries are kept
 * whole, with the fingerprint of the token that signed each, so a test can tell which token signed what.
 * Nothing here holds a secret: URLs are kept without user:password and tokens only as fingerprints.
 */
import type { WebhookMethod } from "../phone-numbers.js";

export type WebhookKind = "incoming-message" | "incoming-call" | "message-status" | "call-status";
export type WebhookOutcome = "accepted" | "rejected" | "failed";

export interface WebhookDelivery {
  /** Sequence number, from 1, in the order sent. */
  id: number;
  kind: WebhookKind;
  accountSid: string;
  /** The configured URL (without user:password); a GET's parameters are not part of it. */
  url: string;
  method: WebhookMethod;
  outcome: WebhookOutcome;
  /** The HTTP status answered, or null when no answer came. */
  status: number | null;
  /** Why no answer came (failed only), else null. */
  error: string | null;
  /** `sha256:` fingerprint of the token that signed it, as in the emulator's snapshot. */
  signedWith: string;
  /** The parameters sent, for tests that check what an app received (never secret). */
  params: Record<string, string>;
  /** ISO 8601 time the request went out, by the emulator's clock. */
  sentAt: string;
}

export interface WebhookTotals {
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
}

export interface UrlCounts extends WebhookTotals {
  url: string;
  /** Answers by HTTP status, e.g. `{"200": 95, "403": 5}`. */
  statuses: Record<string, number>;
}

export interface WebhookCounts extends WebhookTotals {
  /** Sent and not answered yet. */
  pending: number;
  /** One entry per URL, in the order each was first called. */
  byUrl: UrlCounts[];
}

/** Deliveries kept whole (the counters cover all of them). */
const RECENT = 500;

export class WebhookLog {
  readonly #byUrl = new Map<string, UrlCounts>();
  readonly #recent: WebhookDelivery[] = [];
  #nextId = 1;
  pending = 0;

  nextId(): number {
    return this.#nextId++;
  }

  /** The id of the last webhook sent (0 before the first), answered or not yet. */
  get lastId(): number {
    return this.#nextId - 1;
  }

  record(delivery: WebhookDelivery): void {
    let counts = this.#byUrl.get(delivery.url);
    if (!counts) {
      counts = { url: delivery.url, sent: 0, accepted: 0, rejected: 0, failed: 0, statuses: {} };
      this.#byUrl.set(delivery.url, counts);
    }
    counts.sent++;
    counts[delivery.outcome]++;
    if (delivery.status !== null) {
      counts.statuses[delivery.status] = (counts.statuses[delivery.status] ?? 0) + 1;
    }
    this.#recent.push(delivery);
    if (this.#recent.length > RECENT) this.#recent.shift();
  }

  counts(): WebhookCounts {
    const byUrl = [...this.#byUrl.values()].map((c) => ({ ...c, statuses: { ...c.statuses } }));
    const sum = (field: keyof WebhookTotals) => byUrl.reduce((total, c) => total + c[field], 0);
    return {
      sent: sum("sent"),
      accepted: sum("accepted"),
      rejected: sum("rejected"),
      failed: sum("failed"),
      pending: this.pending,
      byUrl,
    };
  }

  /** The last deliveries, oldest first; only those after `afterId` when given. */
  recent(afterId = 0): WebhookDelivery[] {
    return this.#recent.filter((d) => d.id > afterId).map((d) => ({ ...d, params: { ...d.params } }));
  }

  /** Zeroes the counters and forgets the deliveries (ids keep counting, so `afterId` stays meaningful). */
  reset(): void {
    this.#byUrl.clear();
    this.#recent.length = 0;
  }
}
