/**
 * The phone numbers accounts have bought (api v2010 IncomingPhoneNumbers) and where each sends its
 * webhooks. A number belongs to one account at a time: buying one another account holds is 21422, as on
 * Twilio, and deleting it releases it. Nothing about HTTP here; resources/incoming-phone-numbers.ts serves
 * the API and webhooks/ sends the requests.
 */
import { TwilioError } from "./errors.js";
import { newSid } from "./format.js";

/** The webhook settings of a number, by the API's parameter names (one home for the list). */
export const NUMBER_URL_SETTINGS = [
  "SmsUrl",
  "SmsFallbackUrl",
  "VoiceUrl",
  "VoiceFallbackUrl",
  "StatusCallback",
] as const;
export const NUMBER_METHOD_SETTINGS = [
  "SmsMethod",
  "SmsFallbackMethod",
  "VoiceMethod",
  "VoiceFallbackMethod",
  "StatusCallbackMethod",
] as const;
export type NumberUrlSetting = (typeof NUMBER_URL_SETTINGS)[number];
export type NumberMethodSetting = (typeof NUMBER_METHOD_SETTINGS)[number];
export type WebhookMethod = "GET" | "POST";

export interface PhoneNumberRecord {
  readonly sid: string;
  accountSid: string;
  readonly phoneNumber: string;
  /** The Region of the request that bought it: its webhooks are signed with that Region's token. */
  readonly region: string;
  friendlyName: string;
  /** Unset URLs are absent; Twilio answers them as null. */
  urls: Partial<Record<NumberUrlSetting, string>>;
  /** Twilio's default for every method is POST. */
  methods: Record<NumberMethodSetting, WebhookMethod>;
  voiceCallerIdLookup: boolean;
  readonly dateCreated: Date;
  dateUpdated: Date;
  readonly seq: number;
}

/** Changes a create or update asks for; undefined leaves a setting as it is, "" clears a URL. */
export interface NumberSettings {
  friendlyName?: string | undefined;
  urls?: Partial<Record<NumberUrlSetting, string>>;
  methods?: Partial<Record<NumberMethodSetting, WebhookMethod>>;
  voiceCallerIdLookup?: boolean | undefined;
}

/** E.164: a plus, a country code not starting with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{1,14}$/;

/** 21421, https://www.twilio.com/docs/errors/21421 */
export function invalidPhoneNumber(value: string): TwilioError {
  return new TwilioError(400, 21421, `PhoneNumber ${value} is invalid: give it in E.164 format, e.g. +14155551234`);
}

export class PhoneNumbers {
  readonly #bySid = new Map<string, PhoneNumberRecord>();
  readonly #byNumber = new Map<string, PhoneNumberRecord>();
  readonly #clock: () => Date;
  #seq = 0;
  #seedCursor = 0;

  constructor(clock: () => Date) {
    this.#clock = clock;
  }

  /** Buys a number for an account. Throws 21421 for a malformed number, 21422 for one already taken. */
  buy(accountSid: string, phoneNumber: string, region: string, settings: NumberSettings = {}): PhoneNumberRecord {
    if (!E164.test(phoneNumber)) throw invalidPhoneNumber(phoneNumber);
    if (this.#byNumber.has(phoneNumber)) {
      throw new TwilioError(400, 21422, `PhoneNumber ${phoneNumber} is not available`);
    }
    const now = this.#clock();
    const record: PhoneNumberRecord = {
      sid: newSid("PN"),
      accountSid,
      phoneNumber,
      region,
      friendlyName: settings.friendlyName ?? displayName(phoneNumber),
      urls: {},
      methods: {
        SmsMethod: "POST",
        SmsFallbackMethod: "POST",
        VoiceMethod: "POST",
        VoiceFallbackMethod: "POST",
        StatusCallbackMethod: "POST",
      },
      voiceCallerIdLookup: false,
      dateCreated: now,
      dateUpdated: now,
      seq: this.#seq++,
    };
    this.#apply(record, settings);
    this.#bySid.set(record.sid, record);
    this.#byNumber.set(phoneNumber, record);
    return record;
  }

  /**
   * A free number in a North American area code, as Twilio provisions one for `AreaCode`: +1, the area
   * code, then the 555-01xx range reserved for fiction, so no real number is ever named.
   */
  freeNumberIn(areaCode: string): string {
    for (let line = 100; line < 200; line++) {
      const candidate = fictional(areaCode, line);
      if (!this.#byNumber.has(candidate)) return candidate;
    }
    // Twilio documents no code of its own for an exhausted area code; 21422 is "not available for purchase".
    throw new TwilioError(400, 21422, `No phone number is available in area code ${areaCode}`);
  }

  /**
   * Any free fictional number, for numbers seeded without one: area codes 200 to 999 in turn (80,000
   * numbers), from where the last one was found, so seeding a fleet costs no rescans.
   */
  anyFreeNumber(): string {
    for (let tries = 0; tries < SEEDABLE; tries++) {
      const k = this.#seedCursor;
      this.#seedCursor = (k + 1) % SEEDABLE;
      const candidate = fictional(String(200 + Math.floor(k / 100)), 100 + (k % 100));
      if (!this.#byNumber.has(candidate)) return candidate;
    }
    throw new TwilioError(400, 21422, "No fictional phone number is left to seed");
  }

  update(record: PhoneNumberRecord, settings: NumberSettings & { accountSid?: string | undefined }): void {
    if (settings.accountSid !== undefined) record.accountSid = settings.accountSid;
    this.#apply(record, settings);
    record.dateUpdated = this.#clock();
  }

  release(sid: string): boolean {
    const record = this.#bySid.get(sid);
    if (!record) return false;
    this.#bySid.delete(sid);
    this.#byNumber.delete(record.phoneNumber);
    return true;
  }

  bySid(sid: string): PhoneNumberRecord | undefined {
    return this.#bySid.get(sid);
  }

  byNumber(phoneNumber: string): PhoneNumberRecord | undefined {
    return this.#byNumber.get(phoneNumber);
  }

  /** An account's numbers in the order bought; every account's when none is named. */
  list(accountSid?: string): PhoneNumberRecord[] {
    const all = [...this.#bySid.values()];
    return accountSid === undefined ? all : all.filter((n) => n.accountSid === accountSid);
  }

  #apply(record: PhoneNumberRecord, settings: NumberSettings): void {
    if (settings.friendlyName !== undefined) record.friendlyName = settings.friendlyName;
    for (const [name, url] of Object.entries(settings.urls ?? {}) as Array<[NumberUrlSetting, string]>) {
      if (url === "") delete record.urls[name];
      else record.urls[name] = url;
    }
    Object.assign(record.methods, settings.methods ?? {});
    if (settings.voiceCallerIdLookup !== undefined) record.voiceCallerIdLookup = settings.voiceCallerIdLookup;
  }
}

/** Area codes 200-999, 100 fictional lines each. */
const SEEDABLE = 800 * 100;

function fictional(areaCode: string, line: number): string {
  return `+1${areaCode}5550${line}`;
}

/** Twilio's default FriendlyName: `(415) 555-1234` for a North American number, else the number. */
function displayName(phoneNumber: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(phoneNumber);
  return nanp ? `(${nanp[1]}) ${nanp[2]}-${nanp[3]}` : phoneNumber;
}
