/**
 * The causes `rotator doctor` (issue #11) tells apart, each as Twilio answers it: inactive accounts, test
 * credentials, credentials of another Region, and credentials used on an account they do not reach.
 */
import { describe, expect, it } from "vitest";
import { TEST_FROM } from "../../src/emulator/index.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const AUTHENTICATE = { status: 401, code: 20003 };
const DUBLIN = { region: "ie1", edge: "dublin" } as const;

describe("suspended and closed accounts", () => {
  it("refuse the account's valid token and keys with 401 (20003), as Twilio lists among 20003's causes", async () => {
    const { emulator, admin, client, exchanges } = harness();
    for (const status of ["suspended", "closed"] as const) {
      const sub = await admin.api.v2010.accounts.create({ friendlyName: status });
      const key = await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "k" });
      await admin.api.v2010.accounts(sub.sid).update({ status });
      await expect(client(sub.sid, sub.authToken, sub.sid).api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject(
        AUTHENTICATE,
      );
      expect(exchanges.at(-1)?.headers["www-authenticate"]).toBe('Basic realm="Twilio API"');
      await expect(
        client(key.sid, key.secret, sub.sid).api.v2010.accounts(sub.sid).messages.list(),
      ).rejects.toMatchObject(AUTHENTICATE);
    }
    // The parent still sees (and may reactivate) what it owns.
    expect((await admin.api.v2010.accounts.list({ status: "closed" })).length).toBe(1);
    expect(emulator.snapshot().accounts.map((a) => a.status)).toEqual(["active", "suspended", "closed"]);
  });

  it("a suspended main account takes its subaccounts with it, until it is reactivated", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "child" });
    const subClient = client(sub.sid, sub.authToken, sub.sid);
    emulator.setAccountStatus(emulator.accountSid, "suspended");
    await expect(admin.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject(AUTHENTICATE);
    await expect(subClient.api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject(AUTHENTICATE);
    // The subaccount's own status is untouched: it is suspended through its parent.
    expect(emulator.snapshot().accounts[1]?.status).toBe("active");
    emulator.setAccountStatus(emulator.accountSid, "active");
    expect((await subClient.api.v2010.accounts(sub.sid).fetch()).status).toBe("active");
    emulator.setAccountStatus(sub.sid, "closed");
    expect(() => emulator.setAccountStatus(sub.sid, "active")).toThrow(/cannot be reopened/);
  });

  describe("inactiveAccount: 20005", () => {
    const strict = useEmulator({ behaviour: { inactiveAccount: "20005" } });

    it("answers valid credentials of an inactive account 403 (20005); wrong ones still get 20003", async () => {
      const { admin, client } = strict();
      const sub = await admin.api.v2010.accounts.create({ friendlyName: "broke" });
      await admin.api.v2010.accounts(sub.sid).update({ status: "suspended" });
      await expect(client(sub.sid, sub.authToken, sub.sid).api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject({
        status: 403,
        code: 20005,
        moreInfo: "https://www.twilio.com/docs/errors/20005",
      });
      await expect(client(sub.sid, "0".repeat(32), sub.sid).api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject(
        AUTHENTICATE,
      );
    });
  });
});

describe("test credentials", () => {
  it("are refused with 403 (20008) on every resource but the test endpoints", async () => {
    const { emulator, client, exchanges } = harness();
    const test = emulator.testCredentials();
    expect(test.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(test.accountSid).not.toBe(emulator.accountSid);
    expect(emulator.testCredentials()).toEqual(test);
    const c = client(test.accountSid, test.authToken, test.accountSid);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["fetch account", () => c.api.v2010.accounts(test.accountSid).fetch()],
      ["list keys", () => c.api.v2010.accounts(test.accountSid).keys.list()],
      ["list messages", () => c.api.v2010.accounts(test.accountSid).messages.list()],
      ["list keys v1", () => c.iam.v1.getApiKeys.list({ accountSid: test.accountSid })],
      ["create secondary token", () => c.accounts.v1.secondaryAuthToken().create()],
    ];
    for (const [name, call] of calls) {
      await expect(call(), name).rejects.toMatchObject({ status: 403, code: 20008 });
    }
    expect(exchanges.at(-1)?.body).toEqual({
      code: 20008,
      message: "Resource not accessible with Test Account Credentials",
      more_info: "https://www.twilio.com/docs/errors/20008",
      status: 403,
    });
  });

  it("send a message from Twilio's magic number, and get the documented errors for the other magic numbers", async () => {
    const { emulator, client, exchanges } = harness();
    const test = emulator.testCredentials();
    const messages = client(test.accountSid, test.authToken, test.accountSid).api.v2010.accounts(
      test.accountSid,
    ).messages;
    const sent = await messages.create({ from: TEST_FROM, to: "+15558675310", body: "hello" });
    expect(exchanges.at(-1)?.status).toBe(201);
    expect(sent).toMatchObject({ accountSid: test.accountSid, status: "queued", from: TEST_FROM, body: "hello" });
    expect(sent.sid).toMatch(/^SM[0-9a-f]{32}$/);
    const cases: Array<[string, string, number]> = [
      ["+15005550001", "+15558675310", 21212],
      ["+15005550007", "+15558675310", 21606],
      ["+15005550008", "+15558675310", 21611],
      ["+15558675309", "+15558675310", 21606],
      [TEST_FROM, "+15005550001", 21211],
      [TEST_FROM, "+15005550002", 21612],
      [TEST_FROM, "+15005550003", 21408],
      [TEST_FROM, "+15005550004", 21610],
      [TEST_FROM, "+15005550009", 21614],
    ];
    for (const [from, to, code] of cases) {
      await expect(messages.create({ from, to, body: "x" }), `${from} -> ${to}`).rejects.toMatchObject({
        status: 400,
        code,
      });
    }
    // Nothing is kept: test messages change no state.
    expect(emulator.snapshot().keys).toEqual([]);
  });

  it("used on the live account, or with a wrong test token, get 20003", async () => {
    const { emulator, client } = harness();
    const test = emulator.testCredentials();
    const onLive = client(test.accountSid, test.authToken, emulator.accountSid);
    await expect(
      onLive.api.v2010
        .accounts(emulator.accountSid)
        .messages.create({ from: TEST_FROM, to: "+15558675310", body: "x" }),
    ).rejects.toMatchObject(AUTHENTICATE);
    const wrong = client(test.accountSid, "0".repeat(32), test.accountSid);
    await expect(
      wrong.api.v2010.accounts(test.accountSid).messages.create({ from: TEST_FROM, to: "+15558675310", body: "x" }),
    ).rejects.toMatchObject(AUTHENTICATE);
    // Live credentials on the test account SID do not reach it either.
    await expect(
      client(emulator.accountSid, emulator.authToken).api.v2010.accounts(test.accountSid).messages.list(),
    ).rejects.toMatchObject(AUTHENTICATE);
  });

  it("are per account: a subaccount has its own, and live credentials create no message here", async () => {
    const { emulator, admin } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    expect(emulator.testCredentials(sub.sid).accountSid).not.toBe(emulator.testCredentials().accountSid);
    // The emulated accounts own no phone numbers, so a live send fails as Twilio's would: 21606.
    await expect(
      admin.api.v2010.accounts(emulator.accountSid).messages.create({ from: TEST_FROM, to: "+15558675310", body: "x" }),
    ).rejects.toMatchObject({ status: 400, code: 21606 });
    expect(emulator.snapshot().accounts[0]?.testCredentials?.accountSid).toBe(emulator.testCredentials().accountSid);
  });
});

describe("Regions", () => {
  it("give each account its own auth token per Region; a token works only in its own", async () => {
    const { emulator, client, exchanges } = harness();
    const sid = emulator.accountSid;
    const ie1Token = emulator.primaryAuthToken(sid, { region: "ie1" });
    expect(ie1Token).not.toBe(emulator.authToken);
    const dublin = client(sid, ie1Token, sid, DUBLIN);
    const account = await dublin.api.v2010.accounts(sid).fetch();
    expect(account.authToken).toBe(ie1Token);
    await expect(client(sid, emulator.authToken, sid, DUBLIN).api.v2010.accounts(sid).fetch()).rejects.toMatchObject(
      AUTHENTICATE,
    );
    await expect(client(sid, ie1Token).api.v2010.accounts(sid).fetch()).rejects.toMatchObject(AUTHENTICATE);
    // The official client named the regional host; the emulator-aware client passed it on.
    const sydney = client(sid, emulator.primaryAuthToken(sid, { region: "au1" }), sid, { region: "au1" });
    expect((await sydney.api.v2010.accounts(sid).fetch()).sid).toBe(sid);
    expect(exchanges.length).toBeGreaterThan(0);
  });

  it("keep keys where they were created: an IE1 key fails in US1 and a US1 key in IE1 (20003)", async () => {
    const { emulator, admin, client } = harness();
    const sid = emulator.accountSid;
    const dublinAdmin = client(sid, emulator.primaryAuthToken(sid, { region: "ie1" }), sid, DUBLIN);
    const ie1Key = await dublinAdmin.api.v2010.accounts(sid).newKeys.create({ friendlyName: "dublin" });
    const us1Key = await admin.api.v2010.accounts(sid).newKeys.create({ friendlyName: "virginia" });
    expect(await client(ie1Key.sid, ie1Key.secret, sid, DUBLIN).api.v2010.accounts(sid).messages.list()).toEqual([]);
    await expect(client(ie1Key.sid, ie1Key.secret).api.v2010.accounts(sid).messages.list()).rejects.toMatchObject(
      AUTHENTICATE,
    );
    await expect(
      client(us1Key.sid, us1Key.secret, sid, DUBLIN).api.v2010.accounts(sid).messages.list(),
    ).rejects.toMatchObject(AUTHENTICATE);
    // Each Region lists its own keys; the other Region's key is not found there.
    expect((await dublinAdmin.api.v2010.accounts(sid).keys.list()).map((k) => k.sid)).toEqual([ie1Key.sid]);
    await expect(dublinAdmin.api.v2010.accounts(sid).keys(us1Key.sid).fetch()).rejects.toMatchObject({ status: 404 });
    expect(emulator.snapshot().keys.map((k) => [k.sid, k.region])).toEqual([
      [ie1Key.sid, "ie1"],
      [us1Key.sid, "us1"],
    ]);
    expect(emulator.keys(sid, { region: "ie1" }).map((k) => k.sid)).toEqual([ie1Key.sid]);
  });

  it("page iam v1 lists in a Region through regional next_page_urls the official client follows", async () => {
    const { emulator, client, exchanges } = harness();
    const sid = emulator.accountSid;
    const main = emulator.createMainKey(sid, { region: "ie1" });
    const dublin = client(main.sid, main.secret, sid, DUBLIN);
    for (let i = 0; i < 3; i++) await dublin.iam.v1.newApiKey.create({ accountSid: sid, friendlyName: `k${i}` });
    const before = exchanges.length;
    const listed = await dublin.iam.v1.getApiKeys.list({ accountSid: sid, pageSize: 2 });
    expect(listed).toHaveLength(4);
    const pages = exchanges.slice(before).map((e) => e.body as { meta: { next_page_url: string | null } });
    expect(pages).toHaveLength(2);
    expect(pages[0]?.meta.next_page_url).toMatch(/^https:\/\/iam\.dublin\.ie1\.twilio\.com\/v1\/Keys\?/);
    expect(pages[1]?.meta.next_page_url).toBeNull();
  });

  it("rotate auth tokens per Region: an IE1 promotion leaves the US1 token alone", async () => {
    const { emulator, client } = harness();
    const sid = emulator.accountSid;
    const us1Before = emulator.authToken;
    const dublin = client(sid, emulator.primaryAuthToken(sid, { region: "ie1" }), sid, DUBLIN);
    const secondary = await dublin.accounts.v1.secondaryAuthToken().create();
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).toBeNull();
    expect(emulator.snapshot().accounts[0]?.regionalAuthTokens.ie1?.secondaryAuthToken).not.toBeNull();
    await dublin.accounts.v1.authTokenPromotion().update();
    expect(emulator.primaryAuthToken(sid, { region: "ie1" })).toBe(secondary.secondaryAuthToken);
    expect(emulator.authToken).toBe(us1Before);
  });

  it("a Region the emulator does not hold authenticates nothing (20003)", async () => {
    const { emulator, client } = harness();
    const tokyo = client(emulator.accountSid, emulator.authToken, emulator.accountSid, {
      region: "jp1",
      edge: "tokyo",
    });
    await expect(tokyo.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject(AUTHENTICATE);
    expect(() => emulator.primaryAuthToken(emulator.accountSid, { region: "jp1" })).toThrow(/holds no region jp1/);
  });
});

describe("credentials used on an account they do not reach", () => {
  it("the parent's token reaches subaccounts' v2010 resources (keys included); a sibling's does not", async () => {
    const { admin, client } = harness();
    const a = await admin.api.v2010.accounts.create({ friendlyName: "a" });
    const b = await admin.api.v2010.accounts.create({ friendlyName: "b" });
    const key = await admin.api.v2010.accounts(a.sid).newKeys.create({ friendlyName: "made by parent" });
    expect((await admin.api.v2010.accounts(a.sid).keys.list()).map((k) => k.sid)).toEqual([key.sid]);
    expect(await admin.api.v2010.accounts(a.sid).keys(key.sid).remove()).toBe(true);
    // A key of one subaccount used on another: 20003.
    const aKey = await admin.api.v2010.accounts(a.sid).newKeys.create({ friendlyName: "a's" });
    await expect(client(aKey.sid, aKey.secret, b.sid).api.v2010.accounts(b.sid).messages.list()).rejects.toMatchObject(
      AUTHENTICATE,
    );
  });

  it("the parent's Main key reaches subaccounts' v2010 resources; its Standard key does not", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const main = emulator.createMainKey();
    const viaMain = client(main.sid, main.secret);
    const made = await viaMain.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "by main key" });
    expect(emulator.keys(sub.sid).map((k) => k.sid)).toEqual([made.sid]);
    await viaMain.api.v2010.accounts(sub.sid).keys(made.sid).remove();
    const standard = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "std" });
    await expect(
      client(standard.sid, standard.secret).api.v2010.accounts(sub.sid).messages.list(),
    ).rejects.toMatchObject(AUTHENTICATE);
  });

  describe("parentMainKeysOnSubaccounts: false", () => {
    const strict = useEmulator({ behaviour: { parentMainKeysOnSubaccounts: false } });

    it("refuses the parent's Main key on a subaccount (20003), the parent's token still reaches it", async () => {
      const { emulator, admin, client } = strict();
      const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
      const main = emulator.createMainKey();
      await expect(
        client(main.sid, main.secret).api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "x" }),
      ).rejects.toMatchObject(AUTHENTICATE);
      expect((await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "x" })).sid).toMatch(/^SK/);
    });
  });
});
