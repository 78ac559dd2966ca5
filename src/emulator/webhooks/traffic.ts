/**
 * Steady inbound traffic for tests, the sandbox and benchmarks: every `intervalMs`, one inbound message
 * (or call) to each target number, sent without waiting for the previous round's answers. Numbers are
 * looked up at each round, so a number bought or re-pointed meanwhile is picked up. A generator never
 * has more than `maxInFlight` webhooks outstanding: a round that would exceed it skips (and counts) the
 * rest, so a receiver that hangs does not pile up thousands of sockets.
 */
import * as z from "zod";
import type { PhoneNumberRecord, PhoneNumbers } from "../phone-numbers.js";
import type { WebhookDispatcher } from "./dispatcher.js";

export const trafficSchema = z.strictObject({
  /** Milliseconds between rounds. */
  intervalMs: z.number().int().min(1).max(3_600_000),
  /** E.164 numbers to send to; default every number that has the webhook's URL set, at each round. */
  numbers: z.array(z.string()).min(1).optional(),
  /** `message` (SmsUrl, the default) and/or `call` (VoiceUrl). */
  kinds: z
    .array(z.enum(["message", "call"]))
    .min(1)
    .default(["message"]),
  /** Rounds to run before stopping by itself; default until stopped. */
  rounds: z.number().int().min(1).optional(),
  maxInFlight: z.number().int().min(1).max(10_000).default(100),
});

export type TrafficInput = z.input<typeof trafficSchema>;
type TrafficOptions = z.output<typeof trafficSchema>;

export interface TrafficView {
  id: string;
  intervalMs: number;
  /** The numbers named when started, or null for every number with a URL. */
  numbers: string[] | null;
  kinds: Array<"message" | "call">;
  running: boolean;
  /** Rounds run so far. */
  rounds: number;
  /** Webhooks started, and those a round skipped (over maxInFlight, or a named number gone or without URL). */
  sent: number;
  skipped: number;
  inFlight: number;
  maxInFlight: number;
}

export class TrafficGenerator {
  readonly id: string;
  readonly #options: TrafficOptions;
  readonly #numbers: PhoneNumbers;
  readonly #dispatcher: WebhookDispatcher;
  #timer: NodeJS.Timeout | undefined;
  #rounds = 0;
  #sent = 0;
  #skipped = 0;
  #inFlight = 0;

  constructor(id: string, input: unknown, numbers: PhoneNumbers, dispatcher: WebhookDispatcher) {
    const parsed = trafficSchema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid traffic: ${z.prettifyError(parsed.error)}`);
    this.id = id;
    this.#options = parsed.data;
    this.#numbers = numbers;
    this.#dispatcher = dispatcher;
    for (const phoneNumber of this.#options.numbers ?? []) {
      if (!numbers.byNumber(phoneNumber)) throw new Error(`no account owns phone number ${phoneNumber}`);
    }
    this.#timer = setInterval(() => this.#round(), this.#options.intervalMs);
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  view(): TrafficView {
    return {
      id: this.id,
      intervalMs: this.#options.intervalMs,
      numbers: this.#options.numbers ? [...this.#options.numbers] : null,
      kinds: [...this.#options.kinds],
      running: this.running,
      rounds: this.#rounds,
      sent: this.#sent,
      skipped: this.#skipped,
      inFlight: this.#inFlight,
      maxInFlight: this.#options.maxInFlight,
    };
  }

  #round(): void {
    this.#rounds++;
    for (const kind of this.#options.kinds) {
      const url = kind === "message" ? "SmsUrl" : "VoiceUrl";
      for (const target of this.#targets(url)) {
        if (target?.urls[url] === undefined || this.#inFlight >= this.#options.maxInFlight) {
          this.#skipped++;
          continue;
        }
        this.#inFlight++;
        this.#sent++;
        const sent =
          kind === "message" ? this.#dispatcher.incomingMessage(target) : this.#dispatcher.incomingCall(target);
        void sent.finally(() => this.#inFlight--);
      }
    }
    if (this.#options.rounds !== undefined && this.#rounds >= this.#options.rounds) this.stop();
  }

  /** The named numbers (undefined for one since released), or every number with this URL set. */
  #targets(url: "SmsUrl" | "VoiceUrl"): Array<PhoneNumberRecord | undefined> {
    if (this.#options.numbers) return this.#options.numbers.map((n) => this.#numbers.byNumber(n));
    return this.#numbers.list().filter((n) => n.urls[url] !== undefined);
  }
}
