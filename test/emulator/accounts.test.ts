/** api v2010 Accounts: the main account, subaccounts, listing with filters and pages, updates. */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const AC = /^AC[0-9a-f]{32}$/;

describe("GET /2010-04-01/Accounts/{Sid}.json", () => {
  it("returns the main account, its own owner, with its primary token and subresource URIs", async () => {
    const { emulator, admin, exchanges } = harness();
    const account = await admin.api.v2010.accounts(emulator.accountSid).fetch();
    expect(account).toMatchObject({
      sid: emulator.accountSid,
      ownerAccountSid: emulator.accountSid,
      authToken: emulator.authToken,
      status: "active",
      type: "Full",
      uri: `/2010-04-01/Accounts/${emulator.accountSid}.json`,
    });
    expect(account.dateCreated).toBeInstanceOf(Date);
    const raw = exchanges.at(-1)?.body as { subresource_uris: Record<string, string>; date_created: string };
    // The names come from the spec's example; each URI is relative and under this account.
    expect(Object.keys(raw.subresource_uris)).toEqual(expect.arrayContaining(["keys", "messages", "calls"]));
    for (const uri of Object.values(raw.subresource_uris)) {
      expect(uri).toMatch(new RegExp(`^/2010-04-01/Accounts/${emulator.accountSid}/[A-Za-z/]+\\.json$`));
    }
    expect(raw.subresource_uris.keys).toBe(`/2010-04-01/Accounts/${emulator.accountSid}/Keys.json`);
    expect(raw.date_created).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  });
});

describe("POST /2010-04-01/Accounts.json", () => {
  it("creates an active subaccount (201) owned by the caller, with its own token", async () => {
    const { emulator, admin, exchanges } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "billing" });
    expect(exchanges.at(-1)?.status).toBe(201);
    expect(sub.sid).toMatch(AC);
    expect(sub).toMatchObject({ friendlyName: "billing", ownerAccountSid: emulator.accountSid, status: "active" });
    expect(sub.authToken).toMatch(/^[0-9a-f]{32}$/);
    expect(sub.authToken).not.toBe(emulator.authToken);
    expect(emulator.snapshot().accounts[0]?.subaccountSids).toEqual([sub.sid]);
  });

  it("names an unnamed subaccount the way Twilio does", async () => {
    const { admin } = harness();
    const sub = await admin.api.v2010.accounts.create();
    expect(sub.friendlyName).toMatch(/^SubAccount Created at \d{4}-\d{2}-\d{2} \d{2}:\d{2} (am|pm)$/);
  });

  it("refuses a FriendlyName over 64 characters with 20002", async () => {
    const { admin } = harness();
    await expect(admin.api.v2010.accounts.create({ friendlyName: "x".repeat(65) })).rejects.toMatchObject({
      status: 400,
      code: 20002,
    });
  });

  it("keeps one level of subaccounts: a subaccount cannot create one", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "child" });
    const child = client(sub.sid, sub.authToken, sub.sid);
    await expect(child.api.v2010.accounts.create({ friendlyName: "grandchild" })).rejects.toMatchObject({
      status: 403,
      code: 20403,
    });
  });
});

describe("GET /2010-04-01/Accounts.json", () => {
  it("lists the caller and its subaccounts across pages, following relative next_page_uri", async () => {
    const { emulator, admin, exchanges } = harness();
    const created = [];
    for (let i = 0; i < 4; i++) created.push(await admin.api.v2010.accounts.create({ friendlyName: `sub ${i}` }));
    const before = exchanges.length;
    const listed = await admin.api.v2010.accounts.list({ pageSize: 2 });
    expect(listed.map((a) => a.sid)).toEqual([emulator.accountSid, ...created.map((a) => a.sid)]);
    const pages = exchanges.slice(before).map((e) => e.body as { page: number; next_page_uri: string | null });
    expect(pages.map((p) => p.page)).toEqual([0, 1, 2]);
    expect(pages[0]?.next_page_uri).toMatch(/^\/2010-04-01\/Accounts\.json\?PageSize=2&Page=1&PageToken=/);
    expect(pages[2]?.next_page_uri).toBeNull();
  });

  it("filters by FriendlyName and Status, keeping the filters in page URIs", async () => {
    const { admin, exchanges } = harness();
    const a = await admin.api.v2010.accounts.create({ friendlyName: "team" });
    await admin.api.v2010.accounts.create({ friendlyName: "team" });
    await admin.api.v2010.accounts.create({ friendlyName: "other" });
    await admin.api.v2010.accounts(a.sid).update({ status: "suspended" });

    expect(await admin.api.v2010.accounts.list({ friendlyName: "team" })).toHaveLength(2);
    const suspended = await admin.api.v2010.accounts.list({ status: "suspended" });
    expect(suspended.map((x) => x.sid)).toEqual([a.sid]);
    const page = await admin.api.v2010.accounts.page({ friendlyName: "team", status: "active", pageSize: 5 });
    expect(page.instances).toHaveLength(1);
    const body = exchanges.at(-1)?.body as { uri: string; first_page_uri: string };
    expect(body.uri).toBe("/2010-04-01/Accounts.json?FriendlyName=team&Status=active&PageSize=5&Page=0");
    expect(body.first_page_uri).toBe(body.uri);
  });

  it("shows a subaccount only itself", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "alone" });
    const listed = await client(sub.sid, sub.authToken, sub.sid).api.v2010.accounts.list();
    expect(listed.map((a) => a.sid)).toEqual([sub.sid]);
  });
});

describe("POST /2010-04-01/Accounts/{Sid}.json", () => {
  it("renames an account", async () => {
    const { emulator, admin } = harness();
    const updated = await admin.api.v2010.accounts(emulator.accountSid).update({ friendlyName: "renamed" });
    expect(updated.friendlyName).toBe("renamed");
    expect((await admin.api.v2010.accounts(emulator.accountSid).fetch()).friendlyName).toBe("renamed");
  });

  it("suspends and reactivates a subaccount; a suspended account's credentials fail with 20003", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "pausable" });
    const subClient = client(sub.sid, sub.authToken, sub.sid);
    await admin.api.v2010.accounts(sub.sid).update({ status: "suspended" });
    await expect(subClient.api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
    await admin.api.v2010.accounts(sub.sid).update({ status: "active" });
    expect((await subClient.api.v2010.accounts(sub.sid).fetch()).status).toBe("active");
  });

  it("closes for good: a closed account cannot be reopened, and the main account's status cannot change", async () => {
    const { emulator, admin } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "closing" });
    expect((await admin.api.v2010.accounts(sub.sid).update({ status: "closed" })).status).toBe("closed");
    await expect(admin.api.v2010.accounts(sub.sid).update({ status: "active" })).rejects.toMatchObject({ status: 400 });
    await expect(admin.api.v2010.accounts(emulator.accountSid).update({ status: "suspended" })).rejects.toMatchObject({
      status: 400,
      code: 20001,
    });
  });
});

describe("account scope", () => {
  it("lets a parent manage a subaccount's keys; the subaccount sees them as its own", async () => {
    const { admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "managed" });
    const key = await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "made by parent" });
    const subClient = client(sub.sid, sub.authToken, sub.sid);
    expect((await subClient.api.v2010.accounts(sub.sid).keys.list()).map((k) => k.sid)).toEqual([key.sid]);
    // The key belongs to the subaccount, so it authenticates there.
    const keyClient = client(key.sid, key.secret, sub.sid);
    expect(await keyClient.api.v2010.accounts(sub.sid).messages.list()).toEqual([]);
  });

  it("refuses subaccount credentials on the parent, and any credential on an unrelated account (20003)", async () => {
    const { emulator, admin, client } = harness();
    const a = await admin.api.v2010.accounts.create({ friendlyName: "a" });
    const b = await admin.api.v2010.accounts.create({ friendlyName: "b" });
    const aClient = client(a.sid, a.authToken, a.sid);
    await expect(aClient.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    await expect(aClient.api.v2010.accounts(b.sid).keys.list()).rejects.toMatchObject({ status: 401, code: 20003 });
    const nobody = `AC${"0".repeat(32)}`;
    await expect(admin.api.v2010.accounts(nobody).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
  });
});
