/**
 * The consumer library gives an app the token set to validate webhooks with, from its Auth Token store: the
 * token read last and, while a rotation keeps it in the store, the token it replaces; re-read on reload and
 * once the TTL has passed; and says in its status answer which tokens those are (`webhookTokenFingerprints`),
 * which is what rotator waits for before it promotes. An API-key store has no token to validate with: a clear
 * error. The store is a real dotenv file; Twilio is the in-process emulator; signatures are made with the
 * twilio package's own signer.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import { TwilioCredentialError, TwilioCredentials } from "../../src/consumer/index.js";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";

const OTHER = "c".repeat(32);
const URL_ = "https://app.example.com/sms";
const PARAMS = { MessageSid: "SM1", From: "+15558675310", Body: "hi", To: "+15555550100" };
const signedWith = (token: string) => ({
  signature: getExpectedTwilioSignature(token, URL_, PARAMS),
  url: URL_,
  params: PARAMS,
});

let emulator: TwilioEmulator;
let dir: string;
let account: { sid: string; token: string };
const made: TwilioCredentials[] = [];
let fileCounter = 0;

beforeAll(async () => {
  emulator = await startTwilioEmulator({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), "rotator-webhook-tokens-"));
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: "webhook-tokens-" });
  account = { sid: sub!.sid, token: sub!.authToken };
});

afterAll(async () => {
  await Promise.all(made.map((credentials) => credentials.close()));
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  expect.hasAssertions();
});

/** A dotenv store holding the account's token and, when given, the previous one. */
async function tokenStore(previous?: string) {
  const path = join(dir, `app-${++fileCounter}.env`);
  const write = (token: string, previousToken?: string) =>
    writeFile(
      path,
      `TWILIO_ACCOUNT_SID=${account.sid}\nTWILIO_AUTH_TOKEN=${token}\n${previousToken === undefined ? "" : `TWILIO_PREVIOUS_AUTH_TOKEN=${previousToken}\n`}`,
      { mode: 0o600 },
    );
  await write(account.token, previous);
  return { entry: { name: `app-${fileCounter}`, type: "dotenv-file", path }, write };
}

function credentialsFor(store: unknown, options: { kind?: string; ttlSeconds?: number } = {}) {
  const credentials = new TwilioCredentials({
    store,
    kind: options.kind ?? "auth-token",
    ttlSeconds: options.ttlSeconds ?? 3600,
    twilioBaseUrl: emulator.baseUrl,
  });
  made.push(credentials);
  return credentials;
}

describe("TwilioCredentials: the webhook token set of an Auth Token store", () => {
  it("is the token read last; with the previous token in the store, both, the current one first", async () => {
    const single = credentialsFor((await tokenStore()).entry);
    expect(await single.webhookTokens()).toEqual([account.token]);
    const both = credentialsFor((await tokenStore(OTHER)).entry);
    expect(await both.webhookTokens()).toEqual([account.token, OTHER]);
  });

  it("reports its fingerprints in the status answer only once the app validates webhooks through it", async () => {
    const credentials = credentialsFor((await tokenStore(OTHER)).entry);
    await credentials.current();
    expect(credentials.status()).not.toHaveProperty("webhookTokenFingerprints");
    credentials.webhookValidator();
    expect(credentials.status()).toMatchObject({
      tokenFingerprint: tokenFingerprint(account.token),
      webhookTokenFingerprints: [tokenFingerprint(account.token), tokenFingerprint(OTHER)],
    });
  });

  it("says it validates with nothing before its first read", async () => {
    const credentials = credentialsFor((await tokenStore()).entry);
    credentials.webhookValidator();
    expect(credentials.status()).toEqual(expect.objectContaining({ webhookTokenFingerprints: [] }));
  });

  it("validates with the set the store holds, through a rotation: widened on reload, retired once the TTL passed", async () => {
    const store = await tokenStore();
    const credentials = credentialsFor(store.entry, { ttlSeconds: 0.2 });
    const validator = credentials.webhookValidator();
    expect(await validator.verify(signedWith(account.token))).toEqual({
      valid: true,
      by: tokenFingerprint(account.token),
    });
    expect((await validator.verify(signedWith(OTHER))).valid).toBe(false);

    // A rotation writes the new token beside the one it replaces (here the account's token plays the new one,
    // OTHER the old one Twilio may still sign with), and reloads the app.
    await store.write(account.token, OTHER);
    await credentials.refresh();
    expect((await validator.verify(signedWith(OTHER))).valid).toBe(true);
    expect((await validator.verify(signedWith(account.token))).valid).toBe(true);
    expect(credentials.status().webhookTokenFingerprints).toEqual([
      tokenFingerprint(account.token),
      tokenFingerprint(OTHER),
    ]);

    // The retire writes the new token only; no reload: the TTL brings it.
    await store.write(account.token);
    await expect
      .poll(
        async () => {
          await validator.verify(signedWith(account.token));
          return credentials.status().webhookTokenFingerprints;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toEqual([tokenFingerprint(account.token)]);
    expect(await validator.verify(signedWith(OTHER))).toEqual({ valid: false, reason: "bad-signature" });
    expect(await validator.status()).toMatchObject({ validatesWith: [tokenFingerprint(account.token)] });
  });

  it("keeps its client and what Twilio said of it when only the previous token changes", async () => {
    const store = await tokenStore();
    const credentials = credentialsFor(store.entry);
    await credentials.current();
    expect(credentials.status().authenticated).toBe(true);
    const client = await credentials.client();
    // Any call to Twilio now fails: a re-read that checked the credential again would turn authenticated false.
    const fault = emulator.faults.add({ kind: "server-error", status: 503, path: "/2010-04-01/Accounts/*" });
    try {
      await store.write(account.token, OTHER);
      await credentials.refresh();
      expect(await credentials.client()).toBe(client);
      expect(credentials.status()).toMatchObject({ authenticated: true });
      expect(emulator.faults.get(fault.id)?.fired).toBe(0);
    } finally {
      emulator.faults.clear();
    }
  });

  it("serves the fingerprints in the status handler's answer, and never a token", async () => {
    const credentials = credentialsFor((await tokenStore(OTHER)).entry);
    credentials.webhookValidator();
    await credentials.current();
    const server: Server = createServer(credentials.statusHandler());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
          let text = "";
          res.on("data", (chunk) => {
            text += chunk;
          });
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end();
      });
      expect(JSON.parse(body)).toMatchObject({
        webhookTokenFingerprints: [tokenFingerprint(account.token), tokenFingerprint(OTHER)],
      });
      expect(body).not.toContain(account.token);
      expect(body).not.toContain(OTHER);
    } finally {
      server.close();
    }
  });

  it("refuses an API-key store: webhooks are signed with the Auth Token", async () => {
    const key = emulator.createStandardKey(emulator.accountSid, { friendlyName: "webhook-tokens" });
    const path = join(dir, "api-key.env");
    await writeFile(
      path,
      `TWILIO_ACCOUNT_SID=${emulator.accountSid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
    );
    const credentials = credentialsFor({ name: "keys", type: "dotenv-file", path }, { kind: "api-key" });
    expect(() => credentials.webhookValidator()).toThrow(TwilioCredentialError);
    expect(() => credentials.webhookValidator()).toThrow(/store "keys" is read as holding an API key.*Auth Token/);
    await expect(credentials.webhookTokens()).rejects.toThrow(TwilioCredentialError);
    // The app calls Twilio as before, and its status answer says nothing of webhooks.
    await credentials.current();
    expect(credentials.status()).not.toHaveProperty("webhookTokenFingerprints");
    const message = (() => {
      try {
        credentials.webhookValidator();
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).not.toContain(key.secret);
  });
});
