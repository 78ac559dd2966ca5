/**
 * The parameters Twilio sends with each kind of webhook, the documented core of each
 * (https://www.twilio.com/docs/messaging/guides/webhook-request,
 * https://www.twilio.com/docs/voice/twiml#request-parameters,
 * https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks).
 * Twilio adds parameters without notice, which is why apps must validate over all they receive.
 */
import { newSid } from "../format.js";

const API_VERSION = "2010-04-01";

/** A fictional North American number (555-01xx) for the sender of simulated inbound traffic. */
export const DEFAULT_CALLER = "+15558675310";

export interface InboundMessage {
  accountSid: string;
  to: string;
  from: string;
  body: string;
}

/** An SMS arriving at one of the account's numbers, as its SmsUrl receives it. */
export function incomingMessageParams(message: InboundMessage): Record<string, string> {
  const sid = newSid("SM");
  return {
    MessageSid: sid,
    SmsSid: sid,
    SmsMessageSid: sid,
    AccountSid: message.accountSid,
    From: message.from,
    To: message.to,
    Body: message.body,
    NumMedia: "0",
    NumSegments: "1",
    SmsStatus: "received",
    ApiVersion: API_VERSION,
  };
}

export interface InboundCall {
  accountSid: string;
  to: string;
  from: string;
}

/** A call ringing one of the account's numbers (VoiceUrl), and later its end (the number's StatusCallback). */
export function incomingCallParams(
  call: InboundCall & { callSid: string },
  status: "ringing" | "completed",
): Record<string, string> {
  return {
    CallSid: call.callSid,
    AccountSid: call.accountSid,
    From: call.from,
    To: call.to,
    Caller: call.from,
    Called: call.to,
    CallStatus: status,
    Direction: "inbound",
    ApiVersion: API_VERSION,
    ...(status === "completed" ? { CallDuration: "0" } : {}),
  };
}

export interface OutboundMessage {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
}

/**
 * The statuses a created message reports to its StatusCallback. Twilio sends no callback for the initial
 * `queued` (the create's answer already says it), then one per change: `sent`, then `delivered`.
 */
export const MESSAGE_STATUS_CALLBACKS = ["sent", "delivered"] as const;

export function messageStatusParams(
  message: OutboundMessage,
  status: (typeof MESSAGE_STATUS_CALLBACKS)[number],
): Record<string, string> {
  return {
    MessageSid: message.sid,
    SmsSid: message.sid,
    MessageStatus: status,
    SmsStatus: status,
    AccountSid: message.accountSid,
    From: message.from,
    To: message.to,
    ApiVersion: API_VERSION,
  };
}
