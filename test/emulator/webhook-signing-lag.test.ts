/**
 * The signing lag: after the primary token changes, webhooks are signed with the primary it replaced for
 * `signingLagMs`, as Twilio's propagation does, then with the new one. The emulator's clock is driven by
 * the test, so the edges are exact and nothing sleeps. Signatures are checked with twilio's validateRequest.
 */
import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { SPEC_DIR } from "./helpers/contract.js";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.js";

let now = Date.parse("2026-12-01T12:00:00Z");
let receiver: WebhookReceiver;
let emulator: TwilioEmulator;
let number: string;

async function start(signingLagMs?: number): Promise<void> {
  emulator = await startTwilioEmulator({
    specDir: SPEC_DIR,
    clock: () => now,
    ...(signingLagMs === undefined ? {} : { signingLagMs }),
  });
  number = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/sms` }).phoneNumber;
}

beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await emulator.close();
  await receiver.close();
});

/** The tokens that validate the next inbound message, among those given. */
async function signerAmong(tokens: Record<string, string>): Promise<string[]> {
  await emulator.webhooks.inboundMessage(number);
  const webhook = receiver.received.at(-1);
  if (!webhook) throw new Error("no webhook arrived");
  return Object.entries(tokens)
    .filter(([, token]) => twilio.validateRequest(token, webhook.signature, webhook.url, webhook.params))
    .map(([name]) => name);
}

describe("signing lag", () => {
  it("keeps signing with the old primary for exactly signingLagMs after a promote, never with both", async () => {
    await start(2000);
    const old = emulator.authToken;
    const fresh = emulator.createSecondaryToken();
    const tokens = { old, fresh };
    expect(await signerAmong(tokens)).toEqual(["old"]);

    emulator.promote();
    expect(emulator.authToken).toBe(fresh);
    expect(await signerAmong(tokens)).toEqual(["old"]);
    now += 1999;
    expect(await signerAmong(tokens)).toEqual(["old"]);
    now += 1;
    expect(await signerAmong(tokens)).toEqual(["fresh"]);
    now += 60_000;
    expect(await signerAmong(tokens)).toEqual(["fresh"]);
  });

  it("is 0 unless configured: the promoted token signs at once", async () => {
    await start();
    const old = emulator.authToken;
    const fresh = emulator.createSecondaryToken();
    emulator.promote();
    expect(await signerAmong({ old, fresh })).toEqual(["fresh"]);
    expect(emulator.webhooks.settings().signingLagMs).toBe(0);
  });

  it("follows promotes in order when they come faster than the lag, and a reset of the primary lags too", async () => {
    await start(1000);
    const first = emulator.authToken;
    const second = emulator.createSecondaryToken();
    emulator.promote();
    now += 500;
    const third = emulator.createSecondaryToken();
    emulator.promote();
    const tokens = { first, second, third };
    expect(await signerAmong(tokens)).toEqual(["first"]);
    now += 500;
    expect(await signerAmong(tokens)).toEqual(["second"]);
    now += 500;
    expect(await signerAmong(tokens)).toEqual(["third"]);

    const fourth = emulator.rotatePrimaryToken();
    expect(await signerAmong({ third, fourth })).toEqual(["third"]);
    now += 1000;
    expect(await signerAmong({ third, fourth })).toEqual(["fourth"]);
  });

  it("applies a lag changed at run time to a promote already made; refuses a bad lag and keeps the old one", async () => {
    await start();
    const old = emulator.authToken;
    const fresh = emulator.createSecondaryToken();
    emulator.promote();
    expect(await signerAmong({ old, fresh })).toEqual(["fresh"]);
    emulator.webhooks.configure({ signingLagMs: 5000 });
    expect(await signerAmong({ old, fresh })).toEqual(["old"]);
    now += 5000;
    expect(await signerAmong({ old, fresh })).toEqual(["fresh"]);
    for (const bad of [-1, 1.5, 3_600_001]) {
      expect(() => emulator.webhooks.configure({ signingLagMs: bad, timeoutMs: 1 })).toThrow(/signingLagMs/);
    }
    expect(emulator.webhooks.settings()).toEqual({ signingLagMs: 5000, timeoutMs: 15_000 });
    await expect(startTwilioEmulator({ specDir: SPEC_DIR, signingLagMs: -5 })).rejects.toThrow(/signingLagMs/);
  });

  it("lags only the account whose token changed", async () => {
    await start(10_000);
    const sub = emulator.createSubaccounts(1)[0];
    if (!sub) throw new Error("no subaccount");
    const subNumber = emulator.webhooks.seedPhoneNumber({ accountSid: sub.sid, smsUrl: `${receiver.origin}/sub` });
    emulator.createSecondaryToken();
    emulator.promote();
    await emulator.webhooks.inboundMessage(subNumber.phoneNumber);
    const webhook = receiver.received.at(-1);
    expect(
      twilio.validateRequest(sub.authToken, webhook?.signature ?? "", webhook?.url ?? "", webhook?.params ?? {}),
    ).toBe(true);
  });
});
