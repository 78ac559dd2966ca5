/** api v2010 Keys: create (secret once), list across pages, fetch, update, delete. */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("POST /2010-04-01/Accounts/{AccountSid}/Keys.json", () => {
  it("creates a standard key (201) whose secret is returned once and authenticates", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const keys = admin.api.v2010.accounts(emulator.accountSid);
    const created = await keys.newKeys.create({ friendlyName: "app" });
    expect(exchanges.at(-1)?.status).toBe(201);
    expect(created.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(created.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(emulator.keys()).toEqual([
      { sid: created.sid, friendlyName: "app", keyType: "standard", dateCreated: created.dateCreated },
    ]);

    // No later response carries the secret, in any field.
    await keys.keys(created.sid).fetch();
    await keys.keys.list();
    await keys.keys(created.sid).update({ friendlyName: "app 2" });
    for (const exchange of exchanges.slice(-3)) expect(JSON.stringify(exchange.body)).not.toContain(created.secret);

    const withKey = client(created.sid, created.secret);
    expect(await withKey.api.v2010.accounts(emulator.accountSid).messages.list({ pageSize: 1 })).toEqual([]);
  });

  it("refuses a FriendlyName over 64 characters with 20002 and accepts exactly 64", async () => {
    const { emulator, admin } = harness();
    const keys = admin.api.v2010.accounts(emulator.accountSid).newKeys;
    await expect(keys.create({ friendlyName: "k".repeat(65) })).rejects.toMatchObject({ status: 400, code: 20002 });
    expect((await keys.create({ friendlyName: "k".repeat(64) })).friendlyName).toHaveLength(64);
  });
});

describe("GET /2010-04-01/Accounts/{AccountSid}/Keys.json", () => {
  it("pages with list() and each(), following relative next_page_uri through the client", async () => {
    const { emulator, admin, exchanges } = harness();
    const account = admin.api.v2010.accounts(emulator.accountSid);
    const sids: string[] = [];
    for (let i = 0; i < 7; i++) sids.push((await account.newKeys.create({ friendlyName: `key ${i}` })).sid);

    let before = exchanges.length;
    expect((await account.keys.list({ pageSize: 3 })).map((k) => k.sid)).toEqual(sids);
    const listPages = exchanges.slice(before);
    expect(listPages.map((e) => e.url.searchParams.get("Page") ?? "0")).toEqual(["0", "1", "2"]);
    expect(listPages.map((e) => (e.body as { keys: unknown[] }).keys.length)).toEqual([3, 3, 1]);
    const first = listPages[0]?.body as { next_page_uri: string; start: number; end: number; page_size: number };
    expect(first).toMatchObject({ start: 0, end: 2, page_size: 3 });
    expect(first.next_page_uri).toMatch(
      new RegExp(`^/2010-04-01/Accounts/${emulator.accountSid}/Keys\\.json\\?PageSize=3&Page=1&PageToken=\\w+$`),
    );
    expect(listPages[1]?.body).toMatchObject({ start: 3, end: 5 });

    before = exchanges.length;
    const seen: string[] = [];
    await account.keys.each({ pageSize: 4 }, (key) => {
      seen.push(key.sid);
    });
    expect(seen).toEqual(sids);
    expect(exchanges.length - before).toBe(2);
  });

  it("neither repeats nor skips a key when keys are deleted between pages", async () => {
    const { emulator, admin } = harness();
    const account = admin.api.v2010.accounts(emulator.accountSid);
    const sids: string[] = [];
    for (let i = 0; i < 6; i++) sids.push((await account.newKeys.create({ friendlyName: `key ${i}` })).sid);
    const page1 = await account.keys.page({ pageSize: 3 });
    expect(page1.instances.map((k) => k.sid)).toEqual(sids.slice(0, 3));
    await account.keys(sids[0] ?? "").remove();
    await account.keys(sids[1] ?? "").remove();
    const page2 = await page1.nextPage();
    expect(page2?.instances.map((k) => k.sid)).toEqual(sids.slice(3));
  });

  it("lists keys made through iam v1 as well, restricted ones included", async () => {
    const { emulator, admin } = harness();
    const v1 = await admin.iam.v1.newApiKey.create({
      accountSid: emulator.accountSid,
      keyType: "restricted",
      policy: { allow: ["/twilio/messaging/messages/read"] },
    });
    const listed = await admin.api.v2010.accounts(emulator.accountSid).keys.list();
    expect(listed.map((k) => k.sid)).toEqual([v1.sid]);
  });
});

describe("/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", () => {
  it("fetches and renames a key", async () => {
    const { emulator, admin } = harness();
    const account = admin.api.v2010.accounts(emulator.accountSid);
    const created = await account.newKeys.create({ friendlyName: "before" });
    expect((await account.keys(created.sid).fetch()).friendlyName).toBe("before");
    expect((await account.keys(created.sid).update({ friendlyName: "after" })).friendlyName).toBe("after");
    expect(emulator.keys()[0]?.friendlyName).toBe("after");
  });

  it("deletes with 204 and an empty body; the key is gone (404 20404) and stops authenticating", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const account = admin.api.v2010.accounts(emulator.accountSid);
    const created = await account.newKeys.create({ friendlyName: "doomed" });
    expect(await account.keys(created.sid).remove()).toBe(true);
    expect(exchanges.at(-1)).toMatchObject({ status: 204, body: "" });
    const path = `/2010-04-01/Accounts/${emulator.accountSid}/Keys/${created.sid}.json`;
    await expect(account.keys(created.sid).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
      message: expect.stringContaining(`The requested resource ${path} was not found`),
    });
    await expect(account.keys(created.sid).remove()).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(
      client(created.sid, created.secret).api.v2010.accounts(emulator.accountSid).messages.list(),
    ).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    expect(emulator.keys()).toEqual([]);
  });

  it("answers 404 for a key addressed under an account it does not belong to", async () => {
    const { emulator, admin } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const subKey = await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "sub key" });
    await expect(admin.api.v2010.accounts(emulator.accountSid).keys(subKey.sid).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
    expect((await admin.api.v2010.accounts(sub.sid).keys(subKey.sid).fetch()).sid).toBe(subKey.sid);
  });
});
