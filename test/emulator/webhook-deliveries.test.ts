/**
 * What the emulator records of each webhook (accepted 2xx, rejected, failed with no answer; counts per
 * URL), the inbound traffic generator, and the admin endpoints that tests, the sandbox and benchmarks
 * drive all of it through.
 */
import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTwilioEmulator } from "../../src/emulator/index.js";
import { SPEC_DIR } from "./helpers/contract.js";
import { useEmulator } from "./helpers/harness.js";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.js";

const harness = useEmulator();
let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(() => receiver.close());

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

describe("what receivers answered", () => {
  it("counts accepted, rejected and failed webhooks per URL, and keeps the last deliveries", async () => {
    const { emulator } = harness();
    const ok = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/ok` });
    const picky = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/picky` });
    receiver.respond = (webhook) => (webhook.path === "/picky" && webhook.params.Body === "bad" ? 403 : 200);
    const down = await startWebhookReceiver();
    const gone = emulator.webhooks.seedPhoneNumber({ smsUrl: `${down.origin}/gone` });
    await down.close();

    await emulator.webhooks.inboundMessage(ok.phoneNumber);
    await emulator.webhooks.inboundMessage(picky.sid, { body: "bad" });
    await emulator.webhooks.inboundMessage(picky.phoneNumber, { body: "good" });
    const failed = await emulator.webhooks.inboundMessage(gone.phoneNumber);
    expect(failed).toMatchObject({ outcome: "failed", status: null, error: expect.stringMatching(/ECONNREFUSED/) });

    expect(emulator.webhooks.counts()).toEqual({
      sent: 4,
      accepted: 2,
      rejected: 1,
      failed: 1,
      pending: 0,
      byUrl: [
        { url: `${receiver.origin}/ok`, sent: 1, accepted: 1, rejected: 0, failed: 0, statuses: { 200: 1 } },
        { url: `${receiver.origin}/picky`, sent: 2, accepted: 1, rejected: 1, failed: 0, statuses: { 200: 1, 403: 1 } },
        { url: `${down.origin}/gone`, sent: 1, accepted: 0, rejected: 0, failed: 1, statuses: {} },
      ],
    });
    const deliveries = emulator.webhooks.deliveries();
    expect(deliveries.map((d) => [d.id, d.outcome])).toEqual([
      [1, "accepted"],
      [2, "rejected"],
      [3, "accepted"],
      [4, "failed"],
    ]);
    expect(emulator.webhooks.deliveries(2).map((d) => d.id)).toEqual([3, 4]);
    emulator.webhooks.resetCounts();
    expect(emulator.webhooks.counts()).toMatchObject({ sent: 0, byUrl: [] });
    expect(emulator.webhooks.lastSentId()).toBe(4);
    const next = emulator.webhooks.inboundMessage(ok.phoneNumber);
    // The id is given as the webhook is signed, before any answer.
    expect(emulator.webhooks.lastSentId()).toBe(5);
    expect((await next).id).toBe(5);
    expect(emulator.webhooks.deliveries(4).map((d) => d.id)).toEqual([5]);
  });

  it("counts a receiver that does not answer in time as failed, and closing the emulator ends what is in flight", async () => {
    const { emulator } = harness();
    const stuck = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/never` });
    receiver.respond = () => "hold";
    emulator.webhooks.configure({ timeoutMs: 200 });
    const timedOut = await emulator.webhooks.inboundMessage(stuck.phoneNumber);
    expect(timedOut).toMatchObject({ outcome: "failed", error: expect.stringMatching(/no answer within 200 ms/) });

    emulator.webhooks.configure({ timeoutMs: 60_000 });
    const pending = emulator.webhooks.inboundMessage(stuck.phoneNumber);
    await expect.poll(() => emulator.webhooks.counts().pending).toBe(1);
    await emulator.close();
    expect(await pending).toMatchObject({ outcome: "failed" });
    expect(emulator.webhooks.counts()).toMatchObject({ failed: 2, pending: 0 });
  });
});

describe("inbound traffic", () => {
  it("sends a message to every number with an SmsUrl each round, all signed, until its rounds are done", async () => {
    const { emulator } = harness();
    const a = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/a` });
    emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/b` });
    emulator.webhooks.seedPhoneNumber({ voiceUrl: `${receiver.origin}/voice-only` });
    const started = emulator.webhooks.startTraffic({ intervalMs: 5, rounds: 4 });
    expect(started).toMatchObject({ id: "traffic-1", running: true, numbers: null, kinds: ["message"] });
    await expect.poll(() => emulator.webhooks.traffic()[0]?.running).toBe(false);
    await emulator.webhooks.idle();
    expect(emulator.webhooks.traffic()[0]).toMatchObject({ rounds: 4, sent: 8, skipped: 0, inFlight: 0 });
    expect(receiver.received.filter((w) => w.path === "/a")).toHaveLength(4);
    expect(receiver.received.filter((w) => w.path === "/b")).toHaveLength(4);
    for (const webhook of receiver.received) {
      expect(twilio.validateRequest(emulator.authToken, webhook.signature, webhook.url, webhook.params)).toBe(true);
    }

    // Named numbers and calls; stopped by id.
    const calls = emulator.webhooks.startTraffic({ intervalMs: 5, numbers: [a.phoneNumber], kinds: ["call"] });
    await expect.poll(() => emulator.webhooks.traffic()[1]?.rounds ?? 0).toBeGreaterThanOrEqual(2);
    expect(emulator.webhooks.stopTraffic(calls.id)).toBe(true);
    await emulator.webhooks.idle();
    const view = emulator.webhooks.traffic()[1];
    expect(view).toMatchObject({ running: false, numbers: [a.phoneNumber], kinds: ["call"] });
    // a has no VoiceUrl: every round skipped it.
    expect(view?.sent).toBe(0);
    expect(view?.skipped).toBe(view?.rounds);
    expect(emulator.webhooks.stopTraffic("traffic-9")).toBe(false);
  });

  it("never has more than maxInFlight webhooks outstanding, and refuses a bad generator", async () => {
    const { emulator } = harness();
    const held = emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/held` });
    receiver.respond = () => "hold";
    const generator = emulator.webhooks.startTraffic({ intervalMs: 2, numbers: [held.phoneNumber], maxInFlight: 3 });
    await expect.poll(() => emulator.webhooks.traffic()[0]?.skipped ?? 0).toBeGreaterThan(0);
    expect(emulator.webhooks.traffic()[0]).toMatchObject({ sent: 3, inFlight: 3 });
    emulator.webhooks.stopTraffic(generator.id);
    await receiver.close();
    await emulator.webhooks.idle();
    expect(emulator.webhooks.counts()).toMatchObject({ sent: 3, failed: 3, pending: 0 });

    for (const bad of [{ intervalMs: 0 }, { intervalMs: 10, kinds: ["fax"] }, { intervalMs: 10, extra: 1 }]) {
      expect(() => emulator.webhooks.startTraffic(bad as never), JSON.stringify(bad)).toThrow(/invalid traffic/);
    }
    expect(() => emulator.webhooks.startTraffic({ intervalMs: 10, numbers: ["+15550000000"] })).toThrow(/no account/);
    expect(emulator.webhooks.traffic()).toHaveLength(1);
  });

  it("stops with the emulator", async () => {
    const emulator = await startTwilioEmulator({ specDir: SPEC_DIR });
    emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/x` });
    emulator.webhooks.startTraffic({ intervalMs: 5 });
    await expect.poll(() => receiver.received.length).toBeGreaterThan(0);
    await emulator.close();
    expect(emulator.webhooks.traffic()[0]?.running).toBe(false);
  });
});

describe("admin endpoints", () => {
  it("seed and list numbers, simulate an inbound message and call, read and reset the counts", async () => {
    const { emulator } = harness();
    const base = `${emulator.baseUrl}/__emulator`;
    const seeded = await call(`${base}/phone-numbers`, "POST", {
      phoneNumber: "+15555550160",
      smsUrl: `${receiver.origin}/sms`,
      voiceUrl: `${receiver.origin}/voice`,
    });
    expect(seeded).toMatchObject({
      status: 201,
      json: { phoneNumber: "+15555550160", accountSid: emulator.accountSid },
    });
    expect((await call(`${base}/phone-numbers`, "GET")).json).toEqual([seeded.json]);
    expect((await call(`${base}/phone-numbers?accountSid=AC${"0".repeat(32)}`, "GET")).json).toEqual([]);
    expect((await call(`${base}/phone-numbers/%2B15555550160`, "GET")).json).toEqual(seeded.json);

    const sms = await call(`${base}/phone-numbers/%2B15555550160/messages`, "POST", { body: "over http" });
    expect(sms).toMatchObject({ status: 200, json: { kind: "incoming-message", outcome: "accepted" } });
    expect(receiver.received[0]?.params.Body).toBe("over http");
    const voice = await call(`${base}/phone-numbers/${(seeded.json as { sid: string }).sid}/calls`, "POST");
    expect(voice).toMatchObject({ status: 200, json: { kind: "incoming-call", outcome: "accepted" } });

    const read = await call(`${base}/webhooks`, "GET");
    expect(read.json).toMatchObject({
      settings: { signingLagMs: 0, timeoutMs: 15_000 },
      counts: { sent: 2, accepted: 2, rejected: 0, failed: 0 },
      lastSentId: 2,
    });
    expect(((await call(`${base}/webhooks/deliveries?afterId=1`, "GET")).json as unknown[]).length).toBe(1);
    expect((await call(`${base}/webhooks`, "DELETE")).status).toBe(204);
    expect(emulator.webhooks.counts().sent).toBe(0);
  });

  it("set the signing lag and the timeout, run traffic, wait for quiet", async () => {
    const { emulator } = harness();
    const base = `${emulator.baseUrl}/__emulator`;
    expect(await call(`${base}/webhooks/settings`, "POST", { signingLagMs: 2500 })).toEqual({
      status: 200,
      json: { signingLagMs: 2500, timeoutMs: 15_000 },
    });
    expect((await call(`${base}/webhooks/settings`, "GET")).json).toEqual({ signingLagMs: 2500, timeoutMs: 15_000 });

    emulator.webhooks.seedPhoneNumber({ smsUrl: `${receiver.origin}/t` });
    const started = await call(`${base}/traffic`, "POST", { intervalMs: 5, rounds: 3 });
    expect(started).toMatchObject({ status: 201, json: { id: "traffic-1", running: true } });
    await expect
      .poll(async () => ((await call(`${base}/traffic`, "GET")).json as Array<{ running: boolean }>)[0]?.running)
      .toBe(false);
    expect((await call(`${base}/webhooks/idle`, "POST")).status).toBe(204);
    expect(receiver.received).toHaveLength(3);
    expect((await call(`${base}/traffic`, "POST", { intervalMs: 1000 })).status).toBe(201);
    expect((await call(`${base}/traffic/traffic-2`, "DELETE")).status).toBe(204);
    expect((await call(`${base}/traffic/traffic-7`, "DELETE")).status).toBe(404);
    expect((await call(`${base}/traffic`, "DELETE")).status).toBe(204);
  });

  it("answer bad input with 400 or 404 naming the problem, and change nothing", async () => {
    const { emulator } = harness();
    const base = `${emulator.baseUrl}/__emulator`;
    const before = emulator.webhooks.settings();
    const bad: Array<[string, string, unknown, number, RegExp]> = [
      ["/webhooks/settings", "POST", { signingLagMs: -1 }, 400, /signingLagMs/],
      ["/webhooks/settings", "POST", { signingLagMs: 10, timeoutMs: 0 }, 400, /timeoutMs/],
      ["/webhooks/settings", "POST", { lag: 10 }, 400, /lag/],
      ["/phone-numbers", "POST", { phoneNumber: "12345" }, 400, /E\.164/],
      ["/phone-numbers", "POST", { smsUrl: "ftp://x" }, 400, /smsUrl/],
      ["/phone-numbers", "POST", { accountSid: `AC${"0".repeat(32)}` }, 400, /no account/],
      ["/phone-numbers/%2B15550000000/messages", "POST", undefined, 404, /no account owns/],
      ["/traffic", "POST", { intervalMs: "fast" }, 400, /intervalMs/],
      ["/webhooks/deliveries?afterId=x", "GET", undefined, 400, /afterId/],
    ];
    for (const [path, method, body, status, message] of bad) {
      const answer = await call(`${base}${path}`, method, body);
      expect(answer.status, `${method} ${path}`).toBe(status);
      expect((answer.json as { error: string }).error, `${method} ${path}`).toMatch(message);
    }
    const noSms = emulator.webhooks.seedPhoneNumber({ voiceUrl: `${receiver.origin}/v` });
    const refused = await call(`${base}/phone-numbers/${noSms.sid}/messages`, "POST", { body: 5 });
    expect(refused).toMatchObject({ status: 400, json: { error: "body must be a string" } });
    expect(await call(`${base}/phone-numbers/${noSms.sid}/messages`, "POST")).toMatchObject({
      status: 400,
      json: { error: expect.stringMatching(/has no SmsUrl/) },
    });
    expect(emulator.webhooks.settings()).toEqual(before);
    expect(emulator.webhooks.phoneNumbers()).toHaveLength(1);
    expect(emulator.webhooks.traffic()).toEqual([]);
    expect(receiver.received).toEqual([]);
  });
});
