/**
 * api v2010 Messages. The list is always empty: it exists because it is the cheap call a Standard key may
 * make, which is how a rotation checks that a new Standard key authenticates. Create sends from a number
 * the account bought (IncomingPhoneNumbers) and calls the message's StatusCallback with `sent`, then
 * `delivered`; nothing is kept. Test credentials get Twilio's magic numbers
 * (https://www.twilio.com/docs/iam/test-credentials#test-sms-messages) and no callbacks.
 */
import type { RequestContext } from "../context.js";
import { TwilioError } from "../errors.js";
import { newSid, rfc2822 } from "../format.js";
import { pageQuery, paginate, v2010Envelope } from "../paging.js";
import { isWebhookUrl } from "../webhooks/signature.js";

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
  const { To, From, MessagingServiceSid, Body, MediaUrl, ContentSid, StatusCallback } = ctx.params.body;
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
  if (StatusCallback !== undefined && !isWebhookUrl(StatusCallback)) {
    throw new TwilioError(400, 21502, `StatusCallback ${StatusCallback} is not a valid callback URL`);
  }
  const live = ctx.principal.kind !== "test-credentials";
  if (live) requireOwnSender(ctx, From, accountSid);
  else requireTestSender(From, To);
  const sid = newSid("SM");
  const now = rfc2822(ctx.state.now());
  const uri = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`;
  if (live && StatusCallback !== undefined) {
    ctx.webhooks.dispatcher.messageStatusCallbacks(
      { sid, accountSid, from: From, to: To ?? "" },
      ctx.region,
      StatusCallback,
    );
  }
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

/**
 * Live credentials send from a number their account bought: one no account owns is 21606, one another
 * account (a sibling or the parent included) owns is 21660 (https://www.twilio.com/docs/api/errors/21660).
 */
function requireOwnSender(ctx: RequestContext, from: string, accountSid: string): void {
  const number = ctx.webhooks.numbers.byNumber(from);
  if (number === undefined) {
    throw notMessageCapable(from);
  }
  if (number.accountSid !== accountSid) {
    throw new TwilioError(400, 21660, `Mismatch between the 'From' number ${from} and the account ${accountSid}`);
  }
}

function notMessageCapable(from: string): TwilioError {
  return new TwilioError(
    400,
    21606,
    `The 'From' phone number provided (${from}) is not a valid message-capable Twilio phone number for this destination/account.`,
  );
}

/** Test credentials: the magic From numbers fail as documented, and only TEST_FROM sends (never a live number). */
function requireTestSender(from: string, to: string | undefined): void {
  const fromError = MAGIC_FROM[from];
  if (fromError) throw new TwilioError(400, ...fromError);
  if (from !== TEST_FROM) {
    throw notMessageCapable(from);
  }
  const toError = MAGIC_TO[to ?? ""];
  if (toError) throw new TwilioError(400, ...toError);
}
