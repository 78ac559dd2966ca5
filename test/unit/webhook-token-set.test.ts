/**
 * The consumer library's webhook validation with a token set (src/consumer/webhook-signature.ts and
 * webhooks.ts): a webhook signed with any trusted token passes, anything else is refused 403 and counted;
 * SharedKey (HMAC-SHA256) webhooks check against the shared keys; JSON webhooks by their body hash.
 * Signatures are made with the twilio package's own signer, so the validator is held to Twilio's algorithm.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { getExpectedBodyHash, getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks.js";
import { afterEach, describe, expect, it } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import { TwilioWebhookValidator, verifyTwilioWebhook, type WebhookParams } from "../../src/consumer/index.js";

const OLD = "a".repeat(32);
const NEW = "b".repeat(32);
const OTHER = "c".repeat(32);
const SHARED = "shared-key-secret-of-a-webhooks-rule";
const URL_ = "https://app.example.com/sms?tenant=7";
const PARAMS = { MessageSid: "SM1", From: "+15558675310", Body: "hi", To: "+15555550100" };
const sign = (secret: string, url = URL_, params: object = PARAMS, algorithm?: string) =>
  getExpectedTwilioSignature(secret, url, params, algorithm);

describe("verifyTwilioWebhook", () => {
  it("accepts a signature by any trusted token, naming the token's fingerprint; refuses one by any other", () => {
    const trusted = { authTokens: [OLD, NEW] };
    for (const token of [OLD, NEW]) {
      expect(verifyTwilioWebhook({ signature: sign(token), url: URL_, params: PARAMS }, trusted)).toEqual({
        valid: true,
        by: tokenFingerprint(token),
      });
    }
    const forged = { signature: sign(OTHER), url: URL_, params: PARAMS };
    expect(verifyTwilioWebhook(forged, trusted)).toEqual({ valid: false, reason: "bad-signature" });
    // Trusting only the current token is what breaks across a rotation.
    expect(verifyTwilioWebhook({ signature: sign(OLD), url: URL_, params: PARAMS }, { authTokens: [NEW] })).toEqual({
      valid: false,
      reason: "bad-signature",
    });
  });

  it("refuses a tampered webhook, a missing signature, and everything when no token is trusted", () => {
    const trusted = { authTokens: [OLD, NEW] };
    const signature = sign(NEW);
    expect(verifyTwilioWebhook({ signature, url: URL_, params: { ...PARAMS, Body: "hi!" } }, trusted).valid).toBe(
      false,
    );
    expect(verifyTwilioWebhook({ signature, url: `${URL_}8`, params: PARAMS }, trusted).valid).toBe(false);
    expect(verifyTwilioWebhook({ signature: undefined, url: URL_, params: PARAMS }, trusted)).toEqual({
      valid: false,
      reason: "no-signature",
    });
    expect(verifyTwilioWebhook({ signature, url: URL_, params: PARAMS }, { authTokens: [] })).toEqual({
      valid: false,
      reason: "no-trusted-token",
    });
  });

  it("checks a SharedKey webhook (X-Twilio-Webhooks-Signature-Settings) against the shared keys, by its algorithm", () => {
    const settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256";
    const signature = sign(SHARED, URL_, PARAMS, "HMAC_SHA256");
    const webhook = { signature, signatureSettings: settings, url: URL_, params: PARAMS };
    expect(verifyTwilioWebhook(webhook, { authTokens: [OLD], sharedKeys: ["old-shared", SHARED] })).toEqual({
      valid: true,
      by: `shared-key:${tokenFingerprint(SHARED)}`,
    });
    // The same signature is not an auth-token signature, and the auth token never validates a SharedKey webhook.
    expect(verifyTwilioWebhook({ ...webhook, signatureSettings: undefined }, { authTokens: [SHARED] }).valid).toBe(
      false,
    );
    const byToken = { ...webhook, signature: sign(OLD, URL_, PARAMS, "HMAC_SHA256") };
    expect(verifyTwilioWebhook(byToken, { authTokens: [OLD], sharedKeys: [SHARED] }).valid).toBe(false);
    expect(verifyTwilioWebhook(webhook, { authTokens: [OLD] })).toEqual({ valid: false, reason: "no-shared-key" });
    const sha1 = { ...webhook, signatureSettings: "key=k,algorithm=HMAC_SHA1", signature: sign(SHARED) };
    expect(verifyTwilioWebhook(sha1, { authTokens: [], sharedKeys: [SHARED] }).valid).toBe(true);
    expect(
      verifyTwilioWebhook(
        { ...webhook, signatureSettings: "key=k,algorithm=HMAC_MD5" },
        { authTokens: [], sharedKeys: [SHARED] },
      ),
    ).toEqual({ valid: false, reason: "unsupported-algorithm" });
  });

  it("checks a JSON webhook's body against its bodySHA256, and repeated form parameters as Twilio signs them", () => {
    const body = JSON.stringify({ CallSid: "CA1", Caller: "+15558675310" });
    const url = `https://app.example.com/events?bodySHA256=${getExpectedBodyHash(body)}`;
    const signature = sign(NEW, url, {});
    expect(verifyTwilioWebhook({ signature, url, params: {}, rawBody: body }, { authTokens: [OLD, NEW] }).valid).toBe(
      true,
    );
    expect(
      verifyTwilioWebhook({ signature, url, params: {}, rawBody: body.replace("CA1", "CA2") }, { authTokens: [NEW] })
        .valid,
    ).toBe(false);

    const repeated = { MediaUrl: ["https://m/2", "https://m/1"], Body: "x" };
    expect(
      verifyTwilioWebhook({ signature: sign(OLD, URL_, repeated), url: URL_, params: repeated }, { authTokens: [OLD] })
        .valid,
    ).toBe(true);
  });
});

describe("TwilioWebhookValidator on node:http", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(
    listener: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ origin: string; post: typeof post }> {
    server = createServer(listener);
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { origin, post };
  }

  /** A form POST as Twilio sends it, signed with `secret` over `signedUrl` (default: the URL requested). */
  function post(
    url: string,
    params: Record<string, string>,
    secret: string | undefined,
    options: { signedUrl?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: string }> {
    const body = new URLSearchParams(params).toString();
    const headers: Record<string, string> = {
      "Content-Type": "application/x-www-form-urlencoded",
      ...options.headers,
    };
    if (secret !== undefined) headers["X-Twilio-Signature"] = sign(secret, options.signedUrl ?? url, params);
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  it("passes webhooks signed by a trusted token to the app, answers others 403, counts both", async () => {
    let trusted = [OLD];
    const seen: WebhookParams[] = [];
    const rejections: unknown[] = [];
    const validator = new TwilioWebhookValidator({
      authTokens: () => trusted,
      onRejected: (event) => rejections.push(event),
    });
    const { origin } = await serve(
      validator.handler((_req, res, params) => {
        seen.push(params);
        res.writeHead(200, { "Content-Type": "text/xml" }).end("<Response><Message>ok</Message></Response>");
      }),
    );
    const url = `${origin}/sms?x=1`;
    expect(await post(url, PARAMS, OLD)).toEqual({ status: 200, body: "<Response><Message>ok</Message></Response>" });
    expect(await post(url, PARAMS, NEW)).toMatchObject({ status: 403, body: "Twilio Request Validation Failed." });
    // The set is asked for on every webhook: widening it takes effect at once.
    trusted = [NEW, OLD];
    expect((await post(url, PARAMS, NEW)).status).toBe(200);
    expect((await post(url, PARAMS, undefined)).status).toBe(403);
    expect((await post(url, PARAMS, NEW, { signedUrl: `${origin}/other` })).status).toBe(403);

    expect(seen).toEqual([PARAMS, PARAMS]);
    expect(rejections).toEqual([
      { reason: "bad-signature", path: "/sms" },
      { reason: "no-signature", path: "/sms" },
      { reason: "bad-signature", path: "/sms" },
    ]);
    expect(await validator.status()).toEqual({
      accepted: 2,
      rejected: 3,
      rejectedBy: { "bad-signature": 2, "no-signature": 1 },
      acceptedBy: { [tokenFingerprint(OLD)]: 1, [tokenFingerprint(NEW)]: 1 },
      validatesWith: [tokenFingerprint(NEW), tokenFingerprint(OLD)],
    });
    expect(JSON.stringify(await validator.status())).not.toContain(OLD);
  });

  it("rejects everything while the app cannot say which tokens it trusts, and reports validating with none", async () => {
    const validator = new TwilioWebhookValidator({
      authTokens: async () => {
        throw new Error("the store is down");
      },
    });
    const { origin } = await serve(validator.handler());
    expect((await post(`${origin}/sms`, PARAMS, OLD)).status).toBe(403);
    expect(await validator.status()).toMatchObject({
      rejected: 1,
      rejectedBy: { "no-trusted-token": 1 },
      validatesWith: [],
    });
  });

  it("answers a valid webhook 200 <Response/> when the app gave no handler, and a huge body 413", async () => {
    const validator = new TwilioWebhookValidator({ authTokens: () => [OLD] });
    const { origin } = await serve(validator.handler());
    expect(await post(`${origin}/sms`, PARAMS, OLD)).toEqual({ status: 200, body: "<Response/>" });
    const huge = { Body: "x".repeat(1024 * 1024 + 1) };
    expect((await post(`${origin}/sms`, huge, OLD)).status).toBe(413);
    expect(validator.accepted).toBe(1);
  });

  it("behind a proxy, validates against the public URL: a fixed origin, or X-Forwarded-* when trusted", async () => {
    const publicUrl = "https://hooks.example.com/sms?x=1";
    const fixed = new TwilioWebhookValidator({ authTokens: () => [OLD], publicOrigin: "https://hooks.example.com/" });
    const plain = new TwilioWebhookValidator({ authTokens: () => [OLD] });
    const forwarded = new TwilioWebhookValidator({ authTokens: () => [OLD], trustProxy: true });
    const { origin } = await serve((req, res) => {
      const which = req.headers["x-which"];
      (which === "fixed" ? fixed : which === "plain" ? plain : forwarded).handler()(req, res);
    });
    const proxied = { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com" };
    const send = (which: string) =>
      post(`${origin}/sms?x=1`, PARAMS, OLD, { signedUrl: publicUrl, headers: { ...proxied, "X-Which": which } });
    expect((await send("fixed")).status).toBe(200);
    expect((await send("forwarded")).status).toBe(200);
    // Without either, the URL rebuilt from the request is not the one Twilio signed.
    expect((await send("plain")).status).toBe(403);
  });

  it("works as Express middleware: next() with req.body set, or with the body a parser already made", async () => {
    const validator = new TwilioWebhookValidator({ authTokens: () => [NEW] });
    const middleware = validator.handler();
    const { origin } = await serve((req, res) => {
      const respond = () => res.writeHead(200).end(JSON.stringify((req as IncomingMessage & { body?: unknown }).body));
      if (req.headers["x-parsed"] === undefined) {
        middleware(req, res, respond);
        return;
      }
      // What express.urlencoded() leaves behind: the stream read, req.body an object.
      let text = "";
      req.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on("end", () => {
        (req as IncomingMessage & { body?: unknown }).body = Object.fromEntries(new URLSearchParams(text));
        middleware(req, res, respond);
      });
    });
    expect(JSON.parse((await post(`${origin}/sms`, PARAMS, NEW)).body)).toEqual(PARAMS);
    const parsed = await post(`${origin}/sms`, PARAMS, NEW, { headers: { "X-Parsed": "1" } });
    expect(JSON.parse(parsed.body)).toEqual(PARAMS);
    expect((await post(`${origin}/sms`, PARAMS, OLD, { headers: { "X-Parsed": "1" } })).status).toBe(403);
  });
});
