/**
 * Webhooks across an Auth Token promote, end to end: the emulator sends signed inbound messages every 20 ms
 * to three apps (real node:http servers using the consumer library's TwilioWebhookValidator), while the
 * token is rotated through the official client (secondary created, then promoted), with and without a
 * signing lag. The apps differ only in the tokens they trust:
 *
 * - `token-set`: the old token, then {old, new} from the moment the new token exists, held across the
 *   promote and the lag. Expected: 0 rejected, webhooks accepted with both tokens.
 * - `current-only`: only its current token, switching to the new one when it is issued, as an app
 *   re-reading its store does under today's rotation. Expected: rejections (Twilio still signs with the old
 *   primary until the promote).
 * - `drop-at-promote` (with a lag): {old, new}, but drops the old token at the promote. Expected:
 *   rejections during the lag, when Twilio still signs with the old token.
 *
 * The emulator's clock is the real one plus a skew the test controls, so the lag stays open until the test
 * ends it, whatever the machine's load; every wait polls a condition.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import { TwilioWebhookValidator } from "../../src/consumer/index.js";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient } from "../../src/twilio/client.js";

const LAG_MS = 60_000;
const WAIT = { timeout: 30_000, interval: 20 };

interface App {
  name: string;
  url: string;
  trusted: string[];
  validator: TwilioWebhookValidator;
  server: Server;
}

let emulator: TwilioEmulator | undefined;
let apps: App[] = [];
afterEach(async () => {
  await emulator?.close();
  await Promise.all(apps.map((app) => new Promise<void>((resolve) => app.server.close(() => resolve()))));
  emulator = undefined;
  apps = [];
});

async function startApp(name: string, trusted: string[]): Promise<App> {
  const app = { name, trusted } as App;
  app.validator = new TwilioWebhookValidator({ authTokens: () => app.trusted });
  app.server = createServer(app.validator.handler());
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  app.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/sms/${name}`;
  apps.push(app);
  return app;
}

/** Runs one rotation under traffic; returns the apps and the two tokens once traffic has stopped. */
async function rotateUnderTraffic(signingLagMs: number) {
  let skew = 0;
  emulator = await startTwilioEmulator({ clock: () => Date.now() + skew, signingLagMs });
  const running = emulator;
  const old = running.authToken;
  const twilio = createTwilioClient({
    accountSid: running.accountSid,
    username: running.accountSid,
    password: old,
    baseUrl: running.baseUrl,
  });
  const tokenSet = await startApp("token-set", [old]);
  const currentOnly = await startApp("current-only", [old]);
  const dropAtPromote = signingLagMs > 0 ? await startApp("drop-at-promote", [old]) : undefined;
  for (const [i, app] of apps.entries()) {
    await twilio.api.v2010
      .accounts(running.accountSid)
      .incomingPhoneNumbers.create({ phoneNumber: `+1555555017${i}`, smsUrl: app.url });
  }

  /** Resolves once every app got `count` webhooks signed with `token` after this call. */
  const moreSignedWith = async (token: string, count: number) => {
    const after = running.webhooks.lastSentId();
    await expect
      .poll(() => {
        const signed = running.webhooks
          .deliveries(after)
          .filter((d) => d.signedWith === `sha256:${tokenFingerprint(token)}`);
        return Math.min(...apps.map((app) => signed.filter((d) => d.url === app.url).length));
      }, WAIT)
      .toBeGreaterThanOrEqual(count);
  };

  running.webhooks.startTraffic({ intervalMs: 20 });
  await moreSignedWith(old, 3);

  // The new token is issued: the set widens, the current-only app switches to it.
  const fresh = (await twilio.accounts.v1.secondaryAuthToken().create()).secondaryAuthToken;
  if (!fresh) throw new Error("no secondary token");
  tokenSet.trusted = [fresh, old];
  currentOnly.trusted = [fresh];
  if (dropAtPromote) dropAtPromote.trusted = [fresh, old];
  await moreSignedWith(old, 3);

  await twilio.accounts.v1.authTokenPromotion().update();
  if (dropAtPromote) dropAtPromote.trusted = [fresh];
  if (signingLagMs > 0) {
    // Inside the lag Twilio still signs with the old primary, though it no longer authenticates.
    await moreSignedWith(old, 3);
    skew += signingLagMs;
  }
  await moreSignedWith(fresh, 3);

  running.webhooks.stopTraffic();
  await running.webhooks.idle();
  return { old, fresh, tokenSet, currentOnly, dropAtPromote, running };
}

function countsFor(emulatorRunning: TwilioEmulator, app: App) {
  const counts = emulatorRunning.webhooks.counts().byUrl.find((c) => c.url === app.url);
  if (!counts) throw new Error(`no webhooks reached ${app.name}`);
  return counts;
}

describe("webhooks across an Auth Token promote", () => {
  for (const signingLagMs of [0, LAG_MS]) {
    it(`an app trusting {old, new} across the promote${signingLagMs ? " and the lag" : ""} rejects none; one trusting only its current token does`, async () => {
      const { old, fresh, tokenSet, currentOnly, dropAtPromote, running } = await rotateUnderTraffic(signingLagMs);

      const held = countsFor(running, tokenSet);
      expect(held.sent).toBeGreaterThanOrEqual(9);
      expect(held).toMatchObject({ rejected: 0, failed: 0, accepted: held.sent });
      const heldStatus = await tokenSet.validator.status();
      expect(heldStatus).toMatchObject({ rejected: 0, accepted: held.sent });
      // It accepted webhooks signed with each token: the set was needed, not just one of them.
      expect(heldStatus.acceptedBy[tokenFingerprint(old)]).toBeGreaterThan(0);
      expect(heldStatus.acceptedBy[tokenFingerprint(fresh)]).toBeGreaterThan(0);
      expect(heldStatus.validatesWith).toEqual([tokenFingerprint(fresh), tokenFingerprint(old)]);

      const current = countsFor(running, currentOnly);
      expect(current.rejected).toBeGreaterThan(0);
      expect(current.statuses[403]).toBe(current.rejected);
      expect((await currentOnly.validator.status()).rejected).toBe(current.rejected);

      if (dropAtPromote) {
        const dropped = countsFor(running, dropAtPromote);
        expect(dropped.rejected).toBeGreaterThan(0);
        expect((await dropAtPromote.validator.status()).rejectedBy).toEqual({ "bad-signature": dropped.rejected });
      }

      // Once nothing signed with the old token is in flight, the set can retire it.
      tokenSet.trusted = [fresh];
      const after = await running.webhooks.inboundMessage("+15555550170");
      expect(after).toMatchObject({ outcome: "accepted", signedWith: `sha256:${tokenFingerprint(fresh)}` });
    }, 120_000);
  }
});
