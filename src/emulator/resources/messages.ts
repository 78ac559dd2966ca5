/**
 * api v2010 Messages. The list is always empty: it exists because it is the cheap call a Standard key may
 * make, which is how a rotation checks that a new Standard key authenticates. Create exists for test
 * credentials, whose documented use it is: Twilio's magic numbers decide the answer, and nothing is sent or
 * kept (https://www.twilio.com/docs/iam/test-credentials#test-sms-messages). Live credentials get the
 * answer Twilio gives an account that owns no phone numbers, which every emulated account is.
 */
import type { RequestContext } from "../context.js";
import { TwilioError } from "../errors.js";
import { newSid, rfc2822 } from "../format.js";
import { pageQuery, paginate, v2010Envelope } from "../paging.js";

const FILTERS = ["To", "From", "DateSent", "DateSent<", "DateSent>"] as const;

export function listMessages(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const filters = FILTERS.flatMap((name) => {
    const value = ctx.params.query[name];
    return value === undefined ? [] : [[name, value] as [string, string]];
  });
  const paged = paginate<{ seq: number }>([], pageQuery(ctx.params.query));
  return v2010Envelope("messages", `/2010-04-01/Accounts/${accountSid}/Messages.json`, filters, paged, []);
}

/** The one From number that sends with test credentials. */
export const TEST_FROM = "+15005550006";

/** Twilio's magic From numbers that fail, with the error each gives. */
const MAGIC_FROM: Readonly<Record<string, readonly [number, string]>> = {
  "+15005550001": [
    21212,
    "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID.",
  ],
  "+15005550007": [
    21606,
    "The 'From' phone number provided (+15005550007) is not a valid message-capable Twilio phone number for this destination/account.",
  ],
  "+15005550008": [21611, "This 'From' number has exceeded the maximum number of queued messages"],
};

/** Twilio's magic To numbers that fail, with the error each gives; every other To is accepted. */
const MAGIC_TO: Readonly<Record<string, readonly [number, string]>> = {
  "+15005550001": [21211, "The 'To' number +15005550001 is not a valid phone number."],
  "+15005550002": [
    21612,
    "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number: +15005550006 via SMS.",
  ],
  "+15005550003": [
    21408,
    "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003.",
  ],
  "+15005550004": [21610, "Attempt to send to unsubscribed recipient"],
  "+15005550009": [21614, "'To' number is not a valid mobile number"],
};

export function createMessage(ctx: RequestContext): unknown {
  const { To, From, MessagingServiceSid, Body, MediaUrl, ContentSid } = ctx.params.body;
  const accountSid = ctx.params.path.AccountSid ?? "";
  if (From === undefined && MessagingServiceSid === undefined) {
    throw new TwilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message");
  }
  if (Body === undefined && MediaUrl === undefined && ContentSid === undefined) {
    throw new TwilioError(400, 21602, "Message body is required.");
  }
  if (From === undefined) {
    // No Messaging Services are emulated, so none of the caller's exists.
    throw new TwilioError(400, 21701, `The Messaging Service Sid ${MessagingServiceSid} is invalid.`);
  }
  const fromError = ctx.principal.kind === "test-credentials" ? MAGIC_FROM[From] : undefined;
  if (fromError) throw new TwilioError(400, ...fromError);
  if (ctx.principal.kind !== "test-credentials" || From !== TEST_FROM) {
    // Live: the account owns no numbers. Test: only the magic sender works, never a live number.
    throw new TwilioError(
      400,
      21606,
      `The 'From' phone number provided (${From}) is not a valid message-capable Twilio phone number for this destination/account.`,
    );
  }
  const toError = MAGIC_TO[To ?? ""];
  if (toError) throw new TwilioError(400, ...toError);
  const sid = newSid("SM");
  const now = rfc2822(ctx.state.now());
  const uri = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`;
  return {
    account_sid: accountSid,
    api_version: "2010-04-01",
    body: Body ?? "",
    date_created: now,
    date_sent: null,
    date_updated: now,
    direction: "outbound-api",
    error_code: null,
    error_message: null,
    from: From,
    messaging_service_sid: null,
    num_media: MediaUrl === undefined ? "0" : "1",
    num_segments: "1",
    price: null,
    price_unit: "USD",
    sid,
    status: "queued",
    subresource_uris: { media: uri.replace(/\.json$/, "/Media.json") },
    to: To,
    uri,
  };
}
