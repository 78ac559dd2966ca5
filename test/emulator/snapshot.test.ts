/** snapshot() and keys(): deterministic, secret-free, unchanged by reads, changed by writes. */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("snapshot()", () => {
  it("describes accounts, subaccounts, keys and token fingerprints without any secret", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "std" });
    // iam v1 is not a v2010 resource: the subaccount's own credentials create its keys there.
    const restricted = await client(sub.sid, sub.authToken, sub.sid).iam.v1.newApiKey.create({
      accountSid: sub.sid,
      friendlyName: "reader",
      keyType: "restricted",
      policy: { allow: ["/twilio/messaging/messages/read"] },
    });
    const main = emulator.createMainKey();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();

    const snapshot = emulator.snapshot();
    expect(snapshot.accounts.map((a) => [a.sid, a.ownerAccountSid, a.subaccountSids])).toEqual([
      [emulator.accountSid, null, [sub.sid]],
      [sub.sid, emulator.accountSid, []],
    ]);
    expect(snapshot.accounts[0]).toMatchObject({
      status: "active",
      authToken: { fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{16}$/) },
      secondaryAuthToken: { fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{16}$/) },
    });
    expect(snapshot.keys.map((k) => [k.sid, k.accountSid, k.type, k.friendlyName])).toEqual([
      [key.sid, emulator.accountSid, "standard", "std"],
      [restricted.sid, sub.sid, "restricted", "reader"],
      [main.sid, emulator.accountSid, "main", expect.any(String)],
    ]);
    expect(snapshot.keys[0]?.dateCreated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const text = JSON.stringify(snapshot);
    for (const secret of [
      emulator.authToken,
      sub.authToken,
      secondary.secondaryAuthToken,
      key.secret,
      restricted.secret,
      main.secret,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it("is deterministic and unchanged by every kind of read, across pages", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const keys = [];
    for (let i = 0; i < 3; i++)
      keys.push(await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: `k${i}` }));
    const v1 = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    const before = JSON.stringify(emulator.snapshot());
    expect(JSON.stringify(emulator.snapshot())).toBe(before);

    const api = admin.api.v2010;
    await api.accounts(emulator.accountSid).fetch();
    await api.accounts(sub.sid).fetch();
    await api.accounts.list({ pageSize: 1 });
    await api.accounts(emulator.accountSid).keys.list({ pageSize: 2 });
    await api
      .accounts(emulator.accountSid)
      .keys(keys[0]?.sid ?? "")
      .fetch();
    await api.accounts(emulator.accountSid).messages.list();
    await admin.iam.v1.getApiKeys.list({ accountSid: emulator.accountSid, pageSize: 2 });
    await admin.iam.v1.apiKey(v1.sid).fetch();
    const keyClient = client(keys[1]?.sid ?? "", keys[1]?.secret ?? "");
    await keyClient.api.v2010.accounts(emulator.accountSid).messages.list();
    await expect(keyClient.api.v2010.accounts.list()).rejects.toMatchObject({ status: 401 });
    await fetch(`${emulator.baseUrl}/__emulator/snapshot`);

    expect(JSON.stringify(emulator.snapshot())).toBe(before);
  });

  it("changes on writes, by exactly what was written", async () => {
    const { emulator, admin } = harness();
    const before = emulator.snapshot();
    const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "new" });
    const after = emulator.snapshot();
    expect(after.accounts).toEqual(before.accounts);
    expect(after.keys.map((k) => k.sid)).toEqual([key.sid]);
    await admin.api.v2010.accounts(emulator.accountSid).keys(key.sid).remove();
    expect(emulator.snapshot()).toEqual(before);
  });
});

describe("keys()", () => {
  it("lists an account's keys with their type and creation date, defaulting to the main account", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const main = emulator.createMainKey();
    const std = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "std" });
    const subKey = await client(sub.sid, sub.authToken, sub.sid).iam.v1.newApiKey.create({
      accountSid: sub.sid,
      keyType: "restricted",
      policy: { allow: ["/twilio/messaging/messages/read"] },
    });
    expect(emulator.keys().map((k) => [k.sid, k.keyType])).toEqual([
      [main.sid, "main"],
      [std.sid, "standard"],
    ]);
    expect(emulator.keys(sub.sid)).toEqual([
      { sid: subKey.sid, friendlyName: "", keyType: "restricted", dateCreated: subKey.dateCreated },
    ]);
    expect(emulator.keys()[1]?.dateCreated).toEqual(std.dateCreated);
    expect(() => emulator.keys(`AC${"0".repeat(32)}`)).toThrow(/no account/);
    expect(() => emulator.createMainKey(`AC${"0".repeat(32)}`)).toThrow(/no account/);
  });
});
