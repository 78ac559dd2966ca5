/** iam v1 Keys: standard and restricted keys, policies, absolute paging URLs, fetch/update/delete. */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const READ_MESSAGES = { allow: ["/twilio/messaging/messages/read"] };

describe("POST /v1/Keys", () => {
  it("creates a standard key when KeyType is omitted: secret once, policy null", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const key = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid, friendlyName: "std" });
    expect(exchanges.at(-1)?.status).toBe(201);
    expect(key).toMatchObject({ friendlyName: "std", policy: null });
    expect(key.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(emulator.keys()[0]?.keyType).toBe("standard");
    const fetched = await admin.iam.v1.apiKey(key.sid).fetch();
    expect(fetched.policy).toBeNull();
    expect(JSON.stringify(exchanges.at(-1)?.body)).not.toContain(key.secret);
    expect(await client(key.sid, key.secret).api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
  });

  it("creates a restricted key with its policy and reports it back", async () => {
    const { emulator, admin } = harness();
    const key = await admin.iam.v1.newApiKey.create({
      accountSid: emulator.accountSid,
      friendlyName: "reader",
      keyType: "restricted",
      policy: READ_MESSAGES,
    });
    expect(key.policy).toEqual(READ_MESSAGES);
    expect((await admin.iam.v1.apiKey(key.sid).fetch()).policy).toEqual(READ_MESSAGES);
    expect(emulator.keys()[0]?.keyType).toBe("restricted");
    expect(emulator.snapshot().keys[0]?.policy).toEqual(READ_MESSAGES);
  });

  it("refuses a restricted key without a policy, and malformed or oversized policies (400, 20001)", async () => {
    const { emulator, admin, raw } = harness();
    const create = (policy: unknown) =>
      admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid, keyType: "restricted", policy });
    await expect(create(undefined)).rejects.toMatchObject({
      status: 400,
      code: 20001,
      message: expect.stringContaining("Missing required parameter Policy"),
    });
    await expect(create({ allow: [] })).rejects.toMatchObject({ status: 400, code: 20001 });
    await expect(create({ allow: ["messages read"] })).rejects.toMatchObject({ status: 400, code: 20001 });
    await expect(create({ allow: ["/twilio/messaging/messages/read"], deny: [] })).rejects.toMatchObject({
      status: 400,
    });
    const tooMany = Array.from({ length: 101 }, (_, i) => `/twilio/product${i}/things/read`);
    await expect(create({ allow: tooMany })).rejects.toMatchObject({ status: 400, code: 20001 });
    expect((await create({ allow: tooMany.slice(0, 100) })).policy).toEqual({ allow: tooMany.slice(0, 100) });

    const auth = [emulator.accountSid, emulator.authToken] as const;
    const notJson = await raw("POST", "/v1/Keys", {
      auth,
      form: { AccountSid: emulator.accountSid, KeyType: "restricted", Policy: "{allow" },
    });
    expect(notJson).toMatchObject({ status: 400, body: { code: 20001 } });
    // A policy on a standard key is a mistake worth reporting, not something to drop silently.
    await expect(
      admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid, policy: READ_MESSAGES }),
    ).rejects.toMatchObject({ status: 400, code: 20001 });
    expect(emulator.keys()).toHaveLength(1);
  });

  it("checks AccountSid and KeyType against the spec (the client cannot omit them, so raw requests)", async () => {
    const { emulator, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const missing = await raw("POST", "/v1/Keys", { auth, form: { FriendlyName: "x" } });
    expect(missing).toMatchObject({
      status: 400,
      body: { code: 20001, message: "Missing required parameter AccountSid in the post body" },
    });
    const badType = await raw("POST", "/v1/Keys", { auth, form: { AccountSid: emulator.accountSid, KeyType: "main" } });
    expect(badType).toMatchObject({ status: 400, body: { code: 20001 } });
    const badSid = await raw("POST", "/v1/Keys", { auth, form: { AccountSid: "AC123" } });
    expect(badSid).toMatchObject({ status: 400, body: { code: 20001 } });
    expect(emulator.keys()).toEqual([]);
  });
});

describe("GET /v1/Keys", () => {
  it("pages with absolute next_page_url on the emulator's origin, followed by list() and each()", async () => {
    const { emulator, admin, exchanges } = harness();
    const sids: string[] = [];
    for (let i = 0; i < 5; i++) {
      sids.push((await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid, friendlyName: `k${i}` })).sid);
    }
    let before = exchanges.length;
    const listed = await admin.iam.v1.getApiKeys.list({ accountSid: emulator.accountSid, pageSize: 2 });
    expect(listed.map((k) => k.sid)).toEqual(sids);
    expect(listed[0]?.flags).toEqual(["rest_api", "signing"]);
    const pages = exchanges.slice(before).map((e) => e.body as { meta: Record<string, unknown> });
    expect(pages).toHaveLength(3);
    expect(pages[0]?.meta).toMatchObject({
      key: "keys",
      page: 0,
      page_size: 2,
      previous_page_url: null,
      first_page_url: `${emulator.baseUrl}/v1/Keys?AccountSid=${emulator.accountSid}&PageSize=2&Page=0`,
      url: `${emulator.baseUrl}/v1/Keys?AccountSid=${emulator.accountSid}&PageSize=2&Page=0`,
    });
    expect(pages[0]?.meta.next_page_url).toMatch(
      new RegExp(`^${emulator.baseUrl}/v1/Keys\\?AccountSid=${emulator.accountSid}&PageSize=2&Page=1&PageToken=\\w+$`),
    );
    expect(pages[1]?.meta.previous_page_url).toBe(pages[0]?.meta.first_page_url);
    expect(pages[2]?.meta.next_page_url).toBeNull();

    before = exchanges.length;
    const seen: string[] = [];
    await admin.iam.v1.getApiKeys.each({ accountSid: emulator.accountSid, pageSize: 3 }, (key) => {
      seen.push(key.sid);
    });
    expect(seen).toEqual(sids);
    expect(exchanges.length - before).toBe(2);
  });

  it("lists every key of the account whatever made it, flags telling restricted keys apart", async () => {
    const { emulator, admin } = harness();
    const main = emulator.createMainKey();
    const v2010 = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "v2010" });
    const restricted = await admin.iam.v1.newApiKey.create({
      accountSid: emulator.accountSid,
      keyType: "restricted",
      policy: READ_MESSAGES,
    });
    const listed = await admin.iam.v1.getApiKeys.list({ accountSid: emulator.accountSid });
    expect(listed.map((k) => [k.sid, k.flags])).toEqual([
      [main.sid, ["rest_api", "signing"]],
      [v2010.sid, ["rest_api", "signing"]],
      [restricted.sid, ["rest_api"]],
    ]);
  });

  it("requires AccountSid in the query string", async () => {
    const { emulator, raw } = harness();
    const response = await raw("GET", "/v1/Keys", { auth: [emulator.accountSid, emulator.authToken] });
    expect(response).toMatchObject({
      status: 400,
      body: { code: 20001, message: "Missing required parameter AccountSid in the query string" },
    });
  });
});

describe("/v1/Keys/{Sid}", () => {
  it("updates FriendlyName and a restricted key's Policy, and refuses a Policy on a standard key", async () => {
    const { emulator, admin } = harness();
    const restricted = await admin.iam.v1.newApiKey.create({
      accountSid: emulator.accountSid,
      keyType: "restricted",
      policy: READ_MESSAGES,
    });
    const widened = { allow: ["/twilio/messaging/messages/read", "/twilio/messaging/messages/create"] };
    const updated = await admin.iam.v1.apiKey(restricted.sid).update({ friendlyName: "wider", policy: widened });
    expect(updated).toMatchObject({ friendlyName: "wider", policy: widened });

    const standard = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    await expect(admin.iam.v1.apiKey(standard.sid).update({ policy: READ_MESSAGES })).rejects.toMatchObject({
      status: 400,
      code: 20001,
    });
  });

  it("deletes with 204; the key is then unknown (404 20404) and its secret fails at once (20003)", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const key = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    expect(await admin.iam.v1.apiKey(key.sid).remove()).toBe(true);
    expect(exchanges.at(-1)).toMatchObject({ status: 204, body: "" });
    await expect(admin.iam.v1.apiKey(key.sid).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
      message: expect.stringContaining(`The requested resource /v1/Keys/${key.sid} was not found`),
    });
    await expect(
      client(key.sid, key.secret).api.v2010.accounts(emulator.accountSid).messages.list(),
    ).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
  });

  it("refuses the parent's credentials on a subaccount's keys (20003): iam v1 is not a v2010 resource", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    await expect(admin.iam.v1.newApiKey.create({ accountSid: sub.sid, friendlyName: "sub key" })).rejects.toMatchObject(
      {
        status: 401,
        code: 20003,
      },
    );
    await expect(admin.iam.v1.getApiKeys.list({ accountSid: sub.sid })).rejects.toMatchObject({ status: 401 });
    const subKey = await client(sub.sid, sub.authToken, sub.sid).iam.v1.newApiKey.create({
      accountSid: sub.sid,
      friendlyName: "own",
    });
    await expect(admin.iam.v1.apiKey(subKey.sid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
    // The same key through v2010, where the parent's token does reach its subaccounts.
    expect((await admin.api.v2010.accounts(sub.sid).keys(subKey.sid).fetch()).friendlyName).toBe("own");
  });

  it("hides the parent's keys from the subaccount (404)", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const parentKey = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    const subClient = client(sub.sid, sub.authToken, sub.sid);
    await expect(subClient.iam.v1.apiKey(parentKey.sid).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(subClient.iam.v1.newApiKey.create({ accountSid: emulator.accountSid })).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
  });
});

describe("parentCredentialsBeyondV2010: true", () => {
  const wide = useEmulator({ behaviour: { parentCredentialsBeyondV2010: true } });

  it("lets the parent reach a subaccount's keys on iam v1 too", async () => {
    const { admin } = wide();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const subKey = await admin.iam.v1.newApiKey.create({ accountSid: sub.sid, friendlyName: "sub key" });
    expect((await admin.iam.v1.apiKey(subKey.sid).fetch()).friendlyName).toBe("sub key");
    expect((await admin.iam.v1.getApiKeys.list({ accountSid: sub.sid })).map((k) => k.sid)).toEqual([subKey.sid]);
  });
});
