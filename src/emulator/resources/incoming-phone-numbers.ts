/**
 * api v2010 IncomingPhoneNumbers: buy a number (`PhoneNumber`, or `AreaCode` for any free one there), list,
 * fetch, update and release it. What the emulator keeps of a number is where its webhooks go (SmsUrl,
 * VoiceUrl, StatusCallback, their fallbacks and methods) and its FriendlyName; a bought number is then
 * accepted as a message's `From` (resources/messages.ts). Applications, trunks, addresses, bundles and
 * emergency settings are not emulated: those parameters are accepted and not kept.
 */
import type { RequestContext } from "../context.js";
import { authenticate, badParameter, notFound, TwilioError } from "../errors.js";
import { rfc2822 } from "../format.js";
import { pageQuery, paginate, v2010Envelope } from "../paging.js";
import {
  NUMBER_METHOD_SETTINGS,
  NUMBER_URL_SETTINGS,
  type NumberSettings,
  type PhoneNumberRecord,
  type WebhookMethod,
} from "../phone-numbers.js";
import { isWebhookUrl } from "../webhooks/signature.js";

const collection = (accountSid: string) => `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers.json`;

export function listIncomingPhoneNumbers(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const { PhoneNumber, FriendlyName } = ctx.params.query;
  const matches = PhoneNumber === undefined ? undefined : numberPattern(PhoneNumber);
  const numbers = ctx.webhooks.numbers
    .list(accountSid)
    .filter(
      (n) =>
        (matches === undefined || matches.test(n.phoneNumber)) && (FriendlyName ?? n.friendlyName) === n.friendlyName,
    );
  const filters: Array<[string, string]> = [];
  if (FriendlyName !== undefined) filters.push(["FriendlyName", FriendlyName]);
  if (PhoneNumber !== undefined) filters.push(["PhoneNumber", PhoneNumber]);
  const paged = paginate(numbers, pageQuery(ctx.params.query));
  return v2010Envelope(
    "incoming_phone_numbers",
    collection(accountSid),
    filters,
    paged,
    paged.items.map(representation),
  );
}

export function createIncomingPhoneNumber(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const { PhoneNumber, AreaCode } = ctx.params.body;
  if (PhoneNumber === undefined && AreaCode === undefined) {
    throw badParameter("Missing required parameter PhoneNumber (or AreaCode) in the post body");
  }
  if (PhoneNumber === undefined && !/^[2-9]\d{2}$/.test(AreaCode ?? "")) {
    throw new TwilioError(400, 21451, `AreaCode ${AreaCode} is not a valid North American area code`);
  }
  const numbers = ctx.webhooks.numbers;
  const phoneNumber = PhoneNumber ?? numbers.freeNumberIn(AreaCode ?? "");
  return representation(numbers.buy(accountSid, phoneNumber, ctx.region, settingsOf(ctx)));
}

export function fetchIncomingPhoneNumber(ctx: RequestContext): unknown {
  return representation(numberInPath(ctx));
}

export function updateIncomingPhoneNumber(ctx: RequestContext): unknown {
  const number = numberInPath(ctx);
  const target = ctx.params.body.AccountSid;
  // Moving a number between accounts takes credentials that reach both: the parent's, for its subaccounts
  // (https://www.twilio.com/docs/iam/api/subaccounts#exchanging-numbers).
  if (target !== undefined && !(ctx.state.account(target) && ctx.state.canActOn(ctx.principal.accountSid, target))) {
    throw authenticate();
  }
  ctx.webhooks.numbers.update(number, { ...settingsOf(ctx), accountSid: target });
  return representation(number);
}

export function deleteIncomingPhoneNumber(ctx: RequestContext): undefined {
  ctx.webhooks.numbers.release(numberInPath(ctx).sid);
  return undefined;
}

function numberInPath(ctx: RequestContext): PhoneNumberRecord {
  const number = ctx.webhooks.numbers.bySid(ctx.params.path.Sid ?? "");
  if (!number || number.accountSid !== ctx.params.path.AccountSid) throw notFound(ctx.path);
  return number;
}

/** The webhook settings a create or update names; an empty URL clears one, as on Twilio. */
function settingsOf(ctx: RequestContext): NumberSettings {
  const body = ctx.params.body;
  const urls: NonNullable<NumberSettings["urls"]> = {};
  for (const name of NUMBER_URL_SETTINGS) {
    const value = body[name];
    if (value === undefined) continue;
    if (value !== "" && !isWebhookUrl(value)) {
      throw new TwilioError(400, 21402, `${name} is not a valid URL: give an absolute http:// or https:// URL`);
    }
    urls[name] = value;
  }
  const methods: NonNullable<NumberSettings["methods"]> = {};
  for (const name of NUMBER_METHOD_SETTINGS) {
    // The spec's enum (GET, POST) was checked with the other parameters.
    const value = body[name];
    if (value !== undefined) methods[name] = value as WebhookMethod;
  }
  const lookup = body.VoiceCallerIdLookup;
  return {
    friendlyName: body.FriendlyName,
    urls,
    methods,
    voiceCallerIdLookup: lookup === undefined ? undefined : lookup === "true",
  };
}

/** Twilio's list filter: a partial number, with `*` standing for any one digit. */
function numberPattern(filter: string): RegExp {
  const source = filter.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "\\d");
  return new RegExp(source);
}

function representation(n: PhoneNumberRecord) {
  return {
    account_sid: n.accountSid,
    address_sid: null,
    address_requirements: "none",
    api_version: "2010-04-01",
    beta: false,
    capabilities: { voice: true, sms: true, mms: true, fax: false },
    date_created: rfc2822(n.dateCreated),
    date_updated: rfc2822(n.dateUpdated),
    friendly_name: n.friendlyName,
    identity_sid: null,
    phone_number: n.phoneNumber,
    origin: "twilio",
    sid: n.sid,
    sms_application_sid: null,
    sms_fallback_method: n.methods.SmsFallbackMethod,
    sms_fallback_url: n.urls.SmsFallbackUrl ?? null,
    sms_method: n.methods.SmsMethod,
    sms_url: n.urls.SmsUrl ?? null,
    status_callback: n.urls.StatusCallback ?? null,
    status_callback_method: n.methods.StatusCallbackMethod,
    trunk_sid: null,
    uri: `/2010-04-01/Accounts/${n.accountSid}/IncomingPhoneNumbers/${n.sid}.json`,
    voice_receive_mode: "voice",
    voice_application_sid: null,
    voice_caller_id_lookup: n.voiceCallerIdLookup,
    voice_fallback_method: n.methods.VoiceFallbackMethod,
    voice_fallback_url: n.urls.VoiceFallbackUrl ?? null,
    voice_method: n.methods.VoiceMethod,
    voice_url: n.urls.VoiceUrl ?? null,
    emergency_status: "Inactive",
    emergency_address_sid: null,
    emergency_address_status: "unregistered",
    bundle_sid: null,
    status: "in-use",
    type: "local",
  };
}
