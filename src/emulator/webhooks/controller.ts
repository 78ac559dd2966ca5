/**
 * The emulator's webhooks in one place: the numbers accounts bought, the token that signs (with its lag
 * after a promote), the dispatcher, the log of what receivers answered, and traffic generators. API
 * handlers reach it through the request context; tests through `emulator.webhooks`; out-of-process
 * tools through the admin endpoints (webhooks/admin.ts).
 */
import * as z from "zod";
import { type NumberSettings, type PhoneNumberRecord, PhoneNumbers } from "../phone-numbers.js";
import { DEFAULT_REGION } from "../region.js";
import type { EmulatorState } from "../state.js";
import { WebhookDispatcher } from "./dispatcher.js";
import { isWebhookUrl, withoutCredentials } from "./signature.js";
import { SigningKeys } from "./signing-keys.js";
import { TrafficGenerator, type TrafficInput, type TrafficView } from "./traffic.js";
import { type WebhookCounts, type WebhookDelivery, WebhookLog } from "./webhook-log.js";

export interface WebhookSettings {
  /** After a primary token changes, how long webhooks are still signed with the one it replaced. */
  signingLagMs: number;
  /** How long a receiver has to answer before the webhook counts as failed. */
  timeoutMs: number;
}

/** A number as the admin API and the handle show it (URLs without user:password). */
export interface PhoneNumberView {
  sid: string;
  accountSid: string;
  phoneNumber: string;
  friendlyName: string;
  smsUrl: string | null;
  smsMethod: "GET" | "POST";
  voiceUrl: string | null;
  voiceMethod: "GET" | "POST";
  statusCallback: string | null;
  statusCallbackMethod: "GET" | "POST";
}

const method = z.enum(["GET", "POST"]);
const url = z.string().refine(isWebhookUrl, "must be an absolute http:// or https:// URL");

/** Seeding a number without the API (what a sandbox or bench does before its traffic starts). */
export const seedNumberSchema = z.strictObject({
  /** Default: the main account. */
  accountSid: z.string().optional(),
  /** Default: a free fictional number, +1 {200-999} 555-01xx. */
  phoneNumber: z.string().optional(),
  region: z.string().optional(),
  friendlyName: z.string().min(1).max(64).optional(),
  smsUrl: url.optional(),
  smsMethod: method.optional(),
  voiceUrl: url.optional(),
  voiceMethod: method.optional(),
  statusCallback: url.optional(),
  statusCallbackMethod: method.optional(),
});
export type SeedNumberInput = z.input<typeof seedNumberSchema>;

const settingsSchema = z.strictObject({
  signingLagMs: z.number().optional(),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
});

export class EmulatorWebhooks {
  readonly numbers: PhoneNumbers;
  readonly signing: SigningKeys;
  readonly log = new WebhookLog();
  readonly dispatcher: WebhookDispatcher;
  readonly #state: EmulatorState;
  readonly #traffic = new Map<string, TrafficGenerator>();
  #nextTrafficId = 1;

  constructor(state: EmulatorState, closing: AbortSignal, settings: Partial<WebhookSettings> = {}) {
    this.#state = state;
    this.numbers = new PhoneNumbers(() => state.now());
    this.signing = new SigningKeys(state, settings.signingLagMs ?? 0);
    this.dispatcher = new WebhookDispatcher(state, this.signing, this.log, closing);
    if (settings.timeoutMs !== undefined) this.configure({ timeoutMs: settings.timeoutMs });
    state.onPrimaryReplaced = (accountSid, region, previous) =>
      this.signing.primaryReplaced(accountSid, region, previous);
  }

  settings(): WebhookSettings {
    return { signingLagMs: this.signing.lagMs, timeoutMs: this.dispatcher.timeoutMs };
  }

  /** Changes the given settings (all or none) and returns them all. */
  configure(changes: Partial<WebhookSettings>): WebhookSettings {
    const parsed = settingsSchema.safeParse(changes);
    if (!parsed.success) throw new Error(`invalid webhook settings: ${z.prettifyError(parsed.error)}`);
    const { signingLagMs, timeoutMs } = parsed.data;
    // The lag's setter checks it before anything changes, and timeoutMs is already checked: all or none.
    if (signingLagMs !== undefined) this.signing.lagMs = signingLagMs;
    if (timeoutMs !== undefined) this.dispatcher.timeoutMs = timeoutMs;
    return this.settings();
  }

  /** Buys a number for an account without HTTP credentials, with the same checks as the API. */
  seedPhoneNumber(input: SeedNumberInput = {}): PhoneNumberView {
    const parsed = seedNumberSchema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid phone number: ${z.prettifyError(parsed.error)}`);
    const seed = parsed.data;
    const accountSid = seed.accountSid ?? this.#state.mainAccountSid;
    if (!this.#state.account(accountSid)) throw new Error(`no account ${accountSid}`);
    const region = seed.region ?? DEFAULT_REGION;
    if (!this.#state.regions.includes(region)) throw new Error(`the emulator holds no region ${region}`);
    const settings: NumberSettings = {
      friendlyName: seed.friendlyName,
      urls: defined({ SmsUrl: seed.smsUrl, VoiceUrl: seed.voiceUrl, StatusCallback: seed.statusCallback }),
      methods: defined({
        SmsMethod: seed.smsMethod,
        VoiceMethod: seed.voiceMethod,
        StatusCallbackMethod: seed.statusCallbackMethod,
      }),
    };
    const phoneNumber = seed.phoneNumber ?? this.numbers.anyFreeNumber();
    return phoneNumberView(this.numbers.buy(accountSid, phoneNumber, region, settings));
  }

  /** Every account's numbers, or one account's. */
  phoneNumbers(accountSid?: string): PhoneNumberView[] {
    return this.numbers.list(accountSid).map(phoneNumberView);
  }

  /** One number by E.164 or PN SID, or undefined when no account owns it. */
  phoneNumber(phoneNumberOrSid: string): PhoneNumberView | undefined {
    const found = this.#find(phoneNumberOrSid);
    return found && phoneNumberView(found);
  }

  /** Simulates an SMS to a number (E.164 or PN SID); resolves with what its SmsUrl answered. */
  inboundMessage(phoneNumber: string, input: { from?: string; body?: string } = {}): Promise<WebhookDelivery> {
    return this.dispatcher.incomingMessage(this.#number(phoneNumber), input);
  }

  /** Simulates a call to a number; resolves with what its VoiceUrl answered. */
  inboundCall(phoneNumber: string, input: { from?: string } = {}): Promise<WebhookDelivery> {
    return this.dispatcher.incomingCall(this.#number(phoneNumber), input);
  }

  startTraffic(input: TrafficInput): TrafficView {
    const id = `traffic-${this.#nextTrafficId++}`;
    const generator = new TrafficGenerator(id, input, this.numbers, this.dispatcher);
    this.#traffic.set(id, generator);
    return generator.view();
  }

  /** Stops one generator (false when there is no such id) or, with no id, all of them. */
  stopTraffic(id?: string): boolean {
    if (id === undefined) {
      for (const generator of this.#traffic.values()) generator.stop();
      return true;
    }
    const generator = this.#traffic.get(id);
    generator?.stop();
    return generator !== undefined;
  }

  traffic(): TrafficView[] {
    return [...this.#traffic.values()].map((g) => g.view());
  }

  counts(): WebhookCounts {
    return this.log.counts();
  }

  /**
   * The id of the last webhook sent so far, answered or not. Ids are given as webhooks are signed, so
   * `deliveries(lastSentId())` later shows only webhooks signed after this moment.
   */
  lastSentId(): number {
    return this.log.lastId;
  }

  /** The last deliveries (up to 500), oldest first; those after `afterId` only, when given. */
  deliveries(afterId?: number): WebhookDelivery[] {
    return this.log.recent(afterId);
  }

  /** Zeroes the counters and forgets past deliveries; generators keep running. */
  resetCounts(): void {
    this.log.reset();
  }

  /** Resolves once no webhook is in flight or scheduled. */
  idle(): Promise<void> {
    return this.dispatcher.idle();
  }

  close(): void {
    this.stopTraffic();
    this.dispatcher.close();
  }

  #find(phoneNumberOrSid: string): PhoneNumberRecord | undefined {
    return phoneNumberOrSid.startsWith("PN")
      ? this.numbers.bySid(phoneNumberOrSid)
      : this.numbers.byNumber(phoneNumberOrSid);
  }

  #number(phoneNumberOrSid: string): PhoneNumberRecord {
    const found = this.#find(phoneNumberOrSid);
    if (!found) throw new Error(`no account owns phone number ${phoneNumberOrSid}`);
    return found;
  }
}

export function phoneNumberView(record: PhoneNumberRecord): PhoneNumberView {
  const shown = (value: string | undefined) => (value === undefined ? null : withoutCredentials(value));
  return {
    sid: record.sid,
    accountSid: record.accountSid,
    phoneNumber: record.phoneNumber,
    friendlyName: record.friendlyName,
    smsUrl: shown(record.urls.SmsUrl),
    smsMethod: record.methods.SmsMethod,
    voiceUrl: shown(record.urls.VoiceUrl),
    voiceMethod: record.methods.VoiceMethod,
    statusCallback: shown(record.urls.StatusCallback),
    statusCallbackMethod: record.methods.StatusCallbackMethod,
  };
}

/** The entries whose value is given (exactOptionalPropertyTypes keeps `undefined` out of the settings). */
function defined<K extends string, V>(entries: Record<K, V | undefined>): Partial<Record<K, V>> {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as Partial<Record<K, V>>;
}
