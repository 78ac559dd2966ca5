/** Who may call what: auth tokens, Main, Standard and Restricted keys, and every way to get 20003. */
import { describe, expect, it } from "vitest";
import type { TwilioClient } from "../../src/twilio/client.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

const AUTHENTICATE = {
  code: 20003,
  message: "Authenticate",
  more_info: "https://www.twilio.com/docs/errors/20003",
  status: 401,
};

/** Every account-admin operation a credential might try, each expected to be refused or allowed alike. */
function adminCalls(c: TwilioClient, accountSid: string): Array<[string, () => Promise<unknown>]> {
  return [
    ["fetch account", () => c.api.v2010.accounts(accountSid).fetch()],
    ["list accounts", () => c.api.v2010.accounts.list()],
    ["create subaccount", () => c.api.v2010.accounts.create({ friendlyName: "by key" })],
    ["list keys v2010", () => c.api.v2010.accounts(accountSid).keys.list()],
    ["create key v2010", () => c.api.v2010.accounts(accountSid).newKeys.create({ friendlyName: "by key" })],
    ["list keys v1", () => c.iam.v1.getApiKeys.list({ accountSid })],
    ["create key v1", () => c.iam.v1.newApiKey.create({ accountSid, friendlyName: "by key" })],
    ["create secondary token", () => c.accounts.v1.secondaryAuthToken().create()],
    ["delete secondary token", () => c.accounts.v1.secondaryAuthToken().remove()],
    ["promote secondary token", () => c.accounts.v1.authTokenPromotion().update()],
  ];
}

describe("missing or wrong credentials", () => {
  it("answers 401 with Twilio's exact body and WWW-Authenticate when there are no credentials", async () => {
    const { emulator, raw } = harness();
    const response = await raw("GET", `/2010-04-01/Accounts/${emulator.accountSid}.json`);
    expect(response.status).toBe(401);
    expect(response.body).toEqual(AUTHENTICATE);
    expect(response.headers["www-authenticate"]).toBe('Basic realm="Twilio API"');
  });

  it("refuses a wrong token, a truncated token, an unknown key and a malformed header alike", async () => {
    const { emulator, client, raw } = harness();
    const sid = emulator.accountSid;
    for (const password of ["0".repeat(32), emulator.authToken.slice(0, 31), `${emulator.authToken} `]) {
      await expect(client(sid, password).api.v2010.accounts(sid).fetch()).rejects.toMatchObject({
        status: 401,
        code: 20003,
      });
    }
    await expect(
      client(`SK${"1".repeat(32)}`, "secret")
        .api.v2010.accounts(sid)
        .messages.list(),
    ).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    for (const header of ["Bearer abc", "Basic !!!", `Basic ${Buffer.from(sid).toString("base64")}`]) {
      const response = await raw("GET", `/2010-04-01/Accounts/${sid}.json`, { auth: header });
      expect(response).toMatchObject({ status: 401, body: AUTHENTICATE });
    }
  });
});

describe("Standard keys", () => {
  it("are refused (401 20003) on /Accounts, /Keys (v2010 and v1) and /v1/AuthTokens, but list Messages", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "standard" });
    const standard = client(key.sid, key.secret);
    for (const [name, call] of adminCalls(standard, emulator.accountSid)) {
      await expect(call(), name).rejects.toMatchObject({ status: 401, code: 20003 });
      expect(exchanges.at(-1)?.headers["www-authenticate"], name).toBe('Basic realm="Twilio API"');
    }
    expect(await standard.api.v2010.accounts(emulator.accountSid).messages.list({ pageSize: 1 })).toEqual([]);
    expect(emulator.keys()).toHaveLength(1);
  });
});

describe("Main keys", () => {
  it("may do everything an auth token does", async () => {
    const { emulator, client } = harness();
    const main = emulator.createMainKey();
    const c = client(main.sid, main.secret);
    for (const [name, call] of adminCalls(c, emulator.accountSid)) {
      if (name === "delete secondary token" || name === "promote secondary token") {
        await c.accounts.v1.secondaryAuthToken().create();
      }
      await expect(call(), name).resolves.toBeDefined();
    }
    expect(await c.api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
  });

  it("can be seeded for a subaccount and then manage only that subaccount", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const main = emulator.createMainKey(sub.sid);
    const c = client(main.sid, main.secret, sub.sid);
    expect((await c.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "x" })).sid).toMatch(/^SK/);
    await expect(c.api.v2010.accounts(emulator.accountSid).keys.list()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    expect(emulator.keys(sub.sid).map((k) => k.keyType)).toEqual(["main", "standard"]);
  });
});

describe("Restricted keys", () => {
  it("may list Messages only when the policy grants /twilio/messaging/messages/read, and never manage keys", async () => {
    const { emulator, admin, client } = harness();
    const create = (allow: string[]) =>
      admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid, keyType: "restricted", policy: { allow } });
    const reader = await create(["/twilio/messaging/messages/read"]);
    const caller = await create(["/twilio/voice/calls/read", "/twilio/messaging/messages/create"]);

    const readerClient = client(reader.sid, reader.secret);
    expect(await readerClient.api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
    for (const [name, call] of adminCalls(readerClient, emulator.accountSid)) {
      await expect(call(), name).rejects.toMatchObject({ status: 401, code: 20003 });
    }
    await expect(
      client(caller.sid, caller.secret).api.v2010.accounts(emulator.accountSid).messages.list(),
    ).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });

    // Narrowing the policy takes effect on the next request.
    await admin.iam.v1.apiKey(reader.sid).update({ policy: { allow: ["/twilio/voice/calls/read"] } });
    await expect(readerClient.api.v2010.accounts(emulator.accountSid).messages.list()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
  });
});

describe("revocation takes effect at once", () => {
  it("a deleted key gets 20003 with WWW-Authenticate on its very next request", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "revoked" });
    const c = client(key.sid, key.secret);
    expect(await c.api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
    await admin.api.v2010.accounts(emulator.accountSid).keys(key.sid).remove();
    await expect(c.api.v2010.accounts(emulator.accountSid).messages.list()).rejects.toMatchObject({
      status: 401,
      code: 20003,
      moreInfo: "https://www.twilio.com/docs/errors/20003",
    });
    expect(exchanges.at(-1)).toMatchObject({ status: 401, body: AUTHENTICATE });
    expect(exchanges.at(-1)?.headers["www-authenticate"]).toBe('Basic realm="Twilio API"');
  });

  it("a Main key may delete itself; it is refused right after", async () => {
    const { emulator, client } = harness();
    const main = emulator.createMainKey();
    const c = client(main.sid, main.secret);
    await c.iam.v1.apiKey(main.sid).remove();
    await expect(c.iam.v1.apiKey(main.sid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
  });

  it("keys of a suspended subaccount stop authenticating, and work again once it is reactivated", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const key = await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "sub key" });
    const c = client(key.sid, key.secret, sub.sid);
    await admin.api.v2010.accounts(sub.sid).update({ status: "suspended" });
    await expect(c.api.v2010.accounts(sub.sid).messages.list()).rejects.toMatchObject({ status: 401, code: 20003 });
    await admin.api.v2010.accounts(sub.sid).update({ status: "active" });
    expect(await c.api.v2010.accounts(sub.sid).messages.list()).toEqual([]);
  });
});
