/**
 * The webhooks the emulator sends are signed as Twilio signs them, checked with the official twilio
 * package's validateRequest (an implementation independent of the emulator's): inbound messages and calls
 * to a bought number, a created message's status callbacks, GET and POST, URLs with a query or with
 * credentials. Only the account's primary token ever signs; the secondary never does.
 */
import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fingerprint } from "../../src/emulator/format.js";
import { useEmulator } from "./helpers/harness.js";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.js";

const harness = useEmulator();
let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(() => receiver.close());

const valid = (token: string, webhook: { signature: string; url: string; params: Record<string, string> }) =>
  twilio.validateRequest(token, webhook.signature, webhook.url, webhook.params);

async function buyNumber(settings: Record<string, string>) {
  const { emulator, admin } = harness();
  return admin.api.v2010
    .accounts(emulator.accountSid)
    .incomingPhoneNumbers.create({ phoneNumber: "+15555550150", ...settings });
}

describe("an inbound message", () => {
  it("is a form POST to the SmsUrl, signed with the primary token over the URL and sorted parameters", async () => {
    const { emulator } = harness();
    const number = await buyNumber({ smsUrl: `${receiver.origin}/sms?tenant=a&b=c%20d` });
    const delivery = await emulator.webhooks.inboundMessage(number.phoneNumber, { from: "+15558675311", body: "hé" });

    const [webhook] = receiver.received;
    if (!webhook) throw new Error("no webhook arrived");
    expect(webhook.method).toBe("POST");
    expect(webhook.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(webhook.url).toBe(`${receiver.origin}/sms?tenant=a&b=c%20d`);
    expect(webhook.params).toMatchObject({
      AccountSid: emulator.accountSid,
      From: "+15558675311",
      To: "+15555550150",
      Body: "hé",
      SmsStatus: "received",
      MessageSid: expect.stringMatching(/^SM[0-9a-f]{32}$/),
    });
    expect(valid(emulator.authToken, webhook)).toBe(true);
    // The check is not vacuous: another body, URL or token fails it.
    expect(valid(emulator.authToken, { ...webhook, params: { ...webhook.params, Body: "he" } })).toBe(false);
    expect(valid(emulator.authToken, { ...webhook, url: `${receiver.origin}/sms?tenant=b&b=c%20d` })).toBe(false);
    expect(valid("0".repeat(32), webhook)).toBe(false);

    expect(delivery).toMatchObject({
      kind: "incoming-message",
      outcome: "accepted",
      status: 200,
      url: `${receiver.origin}/sms?tenant=a&b=c%20d`,
      signedWith: fingerprint(emulator.authToken),
    });
  });

  it("as a GET carries its parameters in the signed URL; credentials in the URL go as Basic auth, not signed", async () => {
    const { emulator } = harness();
    const number = await buyNumber({ smsUrl: `${receiver.origin}/get`, smsMethod: "GET" });
    await emulator.webhooks.inboundMessage(number.phoneNumber, { body: "a b&c" });
    const [get] = receiver.received;
    expect(get?.method).toBe("GET");
    expect(new URL(get?.url ?? "").searchParams.get("Body")).toBe("a b&c");
    expect(twilio.validateRequest(emulator.authToken, get?.signature ?? "", get?.url ?? "", {})).toBe(true);

    const withCredentials = `http://app:s3cret@${receiver.origin.slice("http://".length)}/auth`;
    await harness()
      .admin.api.v2010.accounts(emulator.accountSid)
      .incomingPhoneNumbers(number.sid)
      .update({ smsUrl: withCredentials, smsMethod: "POST" });
    const delivery = await emulator.webhooks.inboundMessage(number.phoneNumber);
    const post = receiver.received[1];
    if (!post) throw new Error("no webhook arrived");
    expect(post.headers.authorization).toBe(`Basic ${Buffer.from("app:s3cret").toString("base64")}`);
    expect(valid(emulator.authToken, post)).toBe(true);
    // What the emulator reports never holds the password.
    expect(JSON.stringify([delivery, emulator.webhooks.counts(), emulator.webhooks.phoneNumbers()])).not.toContain(
      "s3cret",
    );
  });
});

describe("which token signs", () => {
  it("never the secondary: the primary until the promote, then the promoted one (no lag configured)", async () => {
    const { emulator } = harness();
    const number = await buyNumber({ smsUrl: `${receiver.origin}/sms` });
    const oldPrimary = emulator.authToken;
    const secondary = emulator.createSecondaryToken();

    await emulator.webhooks.inboundMessage(number.phoneNumber);
    const before = receiver.received[0];
    if (!before) throw new Error("no webhook arrived");
    expect(valid(oldPrimary, before)).toBe(true);
    expect(valid(secondary, before)).toBe(false);

    emulator.promote();
    await emulator.webhooks.inboundMessage(number.phoneNumber);
    const after = receiver.received[1];
    if (!after) throw new Error("no webhook arrived");
    expect(valid(secondary, after)).toBe(true);
    expect(valid(oldPrimary, after)).toBe(false);
    expect(emulator.webhooks.deliveries().map((d) => d.signedWith)).toEqual([
      fingerprint(oldPrimary),
      fingerprint(secondary),
    ]);
  });

  it("a subaccount's number is signed with the subaccount's token, not the parent's", async () => {
    const { emulator, admin } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "tenant" });
    const number = await admin.api.v2010
      .accounts(sub.sid)
      .incomingPhoneNumbers.create({ phoneNumber: "+15555550151", smsUrl: `${receiver.origin}/tenant` });
    await emulator.webhooks.inboundMessage(number.sid);
    const [webhook] = receiver.received;
    if (!webhook) throw new Error("no webhook arrived");
    expect(webhook.params.AccountSid).toBe(sub.sid);
    expect(valid(sub.authToken, webhook)).toBe(true);
    expect(valid(emulator.authToken, webhook)).toBe(false);
  });
});

describe("status callbacks and calls", () => {
  it("a created message reports sent, then delivered, to its StatusCallback, each signed", async () => {
    const { emulator, admin } = harness();
    const number = await buyNumber({});
    const message = await admin.api.v2010.accounts(emulator.accountSid).messages.create({
      from: number.phoneNumber,
      to: "+15558675310",
      body: "hi",
      statusCallback: `${receiver.origin}/status`,
    });
    await emulator.webhooks.idle();
    expect(receiver.received.map((w) => [w.path, w.params.MessageStatus, w.params.MessageSid])).toEqual([
      ["/status", "sent", message.sid],
      ["/status", "delivered", message.sid],
    ]);
    for (const webhook of receiver.received) expect(valid(emulator.authToken, webhook)).toBe(true);
    expect(emulator.webhooks.counts().byUrl).toEqual([
      { url: `${receiver.origin}/status`, sent: 2, accepted: 2, rejected: 0, failed: 0, statuses: { 200: 2 } },
    ]);
  });

  it("an inbound call asks the VoiceUrl, then reports the call's end to the number's StatusCallback", async () => {
    const { emulator } = harness();
    const number = await buyNumber({ voiceUrl: `${receiver.origin}/voice`, statusCallback: `${receiver.origin}/end` });
    const delivery = await emulator.webhooks.inboundCall(number.phoneNumber, { from: "+15558675312" });
    await emulator.webhooks.idle();
    expect(delivery).toMatchObject({ kind: "incoming-call", outcome: "accepted" });
    expect(receiver.received.map((w) => [w.path, w.params.CallStatus, w.params.From])).toEqual([
      ["/voice", "ringing", "+15558675312"],
      ["/end", "completed", "+15558675312"],
    ]);
    expect(receiver.received[0]?.params.CallSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(receiver.received[1]?.params.CallSid).toBe(receiver.received[0]?.params.CallSid);
    for (const webhook of receiver.received) expect(valid(emulator.authToken, webhook)).toBe(true);
  });

  it("test credentials send no status callback, as nothing is sent with them", async () => {
    const { emulator, client } = harness();
    const test = emulator.testCredentials();
    await client(test.accountSid, test.authToken, test.accountSid)
      .api.v2010.accounts(test.accountSid)
      .messages.create({ from: "+15005550006", to: "+15558675310", body: "x", statusCallback: `${receiver.origin}/s` });
    await emulator.webhooks.idle();
    expect(receiver.received).toEqual([]);
  });
});
