/**
 * Admin endpoints for webhooks, beside the others under `/__emulator/` (loopback only, JSON bodies, no
 * credentials; admin.ts hands these paths over):
 *
 *   GET    /__emulator/phone-numbers[?accountSid=AC..]     numbers bought, every account's by default
 *   POST   /__emulator/phone-numbers                       {"accountSid"?,"phoneNumber"?,"smsUrl"?,"smsMethod"?,
 *                                                           "voiceUrl"?,"voiceMethod"?,"statusCallback"?,
 *                                                           "statusCallbackMethod"?,"friendlyName"?,"region"?} -> 201 the number
 *   GET    /__emulator/phone-numbers/{number}              one number (E.164, URL-encoded, or PN SID) -> 200, or 404
 *   POST   /__emulator/phone-numbers/{number}/messages     {"from"?,"body"?}: an inbound SMS to its SmsUrl
 *                                                           -> 200 the delivery, once the receiver answered
 *   POST   /__emulator/phone-numbers/{number}/calls        {"from"?}: an inbound call to its VoiceUrl -> 200 the delivery
 *   GET    /__emulator/webhooks                            {"settings","counts","lastSentId"}: totals, per-URL counts
 *   DELETE /__emulator/webhooks                            zero the counts -> 204
 *   GET    /__emulator/webhooks/deliveries[?afterId=N]     the last 500 deliveries (after id N)
 *   GET    /__emulator/webhooks/settings                   {"signingLagMs","timeoutMs"}
 *   POST   /__emulator/webhooks/settings                   either or both -> 200 all settings
 *   POST   /__emulator/webhooks/idle                       -> 204 once no webhook is in flight
 *   GET    /__emulator/traffic                             traffic generators with their counts
 *   POST   /__emulator/traffic                             {"intervalMs","numbers"?,"kinds"?,"rounds"?,"maxInFlight"?} -> 201
 *   DELETE /__emulator/traffic, /__emulator/traffic/{id}   stop all, or one -> 204 (404 for an unknown id)
 */
import type { ServerResponse } from "node:http";
import { sendJson } from "../../server-kit/listener.js";
import type { EmulatorWebhooks } from "./controller.js";
import type { TrafficInput } from "./traffic.js";

type JsonInput = Record<string, unknown> | undefined;

/** Answers the request and returns true when the path is one of these endpoints; false leaves it to the caller. */
export function handleWebhookAdmin(
  webhooks: EmulatorWebhooks,
  res: ServerResponse,
  method: string,
  url: URL,
  path: string,
  input: () => JsonInput,
): boolean {
  const op = `${method} ${path}`;
  const number = /^\/__emulator\/phone-numbers\/([^/]+)(?:\/(messages|calls))?$/.exec(path);
  const trafficId = /^\/__emulator\/traffic\/([^/]+)$/.exec(path)?.[1];
  if (op === "GET /__emulator/phone-numbers") {
    sendJson(res, 200, webhooks.phoneNumbers(url.searchParams.get("accountSid") ?? undefined));
  } else if (op === "POST /__emulator/phone-numbers") {
    sendJson(res, 201, webhooks.seedPhoneNumber(input() ?? {}));
  } else if (number?.[1] !== undefined) {
    handleNumber(webhooks, res, method, decodeURIComponent(number[1]), number[2], input);
  } else if (op === "GET /__emulator/webhooks") {
    sendJson(res, 200, { settings: webhooks.settings(), counts: webhooks.counts(), lastSentId: webhooks.lastSentId() });
  } else if (op === "DELETE /__emulator/webhooks") {
    webhooks.resetCounts();
    res.writeHead(204).end();
  } else if (op === "GET /__emulator/webhooks/deliveries") {
    const afterId = Number(url.searchParams.get("afterId") ?? "0");
    if (!Number.isInteger(afterId) || afterId < 0) throw new Error("afterId must be a whole number");
    sendJson(res, 200, webhooks.deliveries(afterId));
  } else if (op === "GET /__emulator/webhooks/settings") {
    sendJson(res, 200, webhooks.settings());
  } else if (op === "POST /__emulator/webhooks/settings") {
    sendJson(res, 200, webhooks.configure(input() ?? {}));
  } else if (op === "POST /__emulator/webhooks/idle") {
    void webhooks.idle().then(() => res.writeHead(204).end());
  } else if (op === "GET /__emulator/traffic") {
    sendJson(res, 200, webhooks.traffic());
  } else if (op === "POST /__emulator/traffic") {
    // The generator validates the shape; a bad one comes back as a 400 naming the problem.
    sendJson(res, 201, webhooks.startTraffic((input() ?? {}) as TrafficInput));
  } else if (op === "DELETE /__emulator/traffic") {
    webhooks.stopTraffic();
    res.writeHead(204).end();
  } else if (trafficId !== undefined && method === "DELETE") {
    if (webhooks.stopTraffic(trafficId)) res.writeHead(204).end();
    else sendJson(res, 404, { error: `no traffic generator ${trafficId}` });
  } else {
    return false;
  }
  return true;
}

function handleNumber(
  webhooks: EmulatorWebhooks,
  res: ServerResponse,
  method: string,
  phoneNumber: string,
  action: string | undefined,
  input: () => JsonInput,
): void {
  const found = webhooks.phoneNumber(phoneNumber);
  if (!found) {
    sendJson(res, 404, { error: `no account owns phone number ${phoneNumber}` });
    return;
  }
  if (action === undefined && method === "GET") {
    sendJson(res, 200, found);
    return;
  }
  if (method !== "POST" || action === undefined) {
    sendJson(res, 404, { error: `no admin endpoint ${method} for phone number ${phoneNumber}` });
    return;
  }
  const body = input();
  const from = optionalString(body, "from");
  const sent =
    action === "messages"
      ? webhooks.inboundMessage(phoneNumber, { ...from, ...optionalString(body, "body") })
      : webhooks.inboundCall(phoneNumber, from);
  void sent.then((delivery) => sendJson(res, 200, delivery));
}

/** `{name: value}` when the input has a string there, `{}` when it has nothing; throws on another type. */
function optionalString<K extends string>(input: JsonInput, name: K): Partial<Record<K, string>> {
  const value = input?.[name];
  if (value === undefined) return {};
  if (typeof value !== "string") throw new Error(`${name} must be a string`);
  return { [name]: value } as Partial<Record<K, string>>;
}
