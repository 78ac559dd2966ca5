/**
 * IncomingPhoneNumbers through the official client: buying (by number or area code), listing, fetching,
 * re-pointing and releasing a number, the errors Twilio gives for each mistake, and which numbers a message
 * may be sent from. Every response is held to the spec by the harness.
 */
import { describe, expect, it } from "vitest";
import { PHONE_NUMBERS_PERMISSION } from "../../src/emulator/index.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("buying and managing numbers", () => {
  it("buys a number with its webhook settings, lists, fetches, re-points and releases it", async () => {
    const { emulator, admin } = harness();
    const numbers = admin.api.v2010.accounts(emulator.accountSid).incomingPhoneNumbers;
    const bought = await numbers.create({
      phoneNumber: "+15555550123",
      smsUrl: "http://127.0.0.1:9/sms",
      smsMethod: "GET",
      statusCallback: "http://127.0.0.1:9/status",
    });
    expect(bought).toMatchObject({
      sid: expect.stringMatching(/^PN[0-9a-f]{32}$/),
      accountSid: emulator.accountSid,
      phoneNumber: "+15555550123",
      friendlyName: "(555) 555-0123",
      smsUrl: "http://127.0.0.1:9/sms",
      smsMethod: "GET",
      voiceUrl: null,
      voiceMethod: "POST",
      statusCallback: "http://127.0.0.1:9/status",
      capabilities: { voice: true, sms: true, mms: true, fax: false },
    });
    const other = await numbers.create({ areaCode: "415", friendlyName: "by area code" });
    expect(other.phoneNumber).toMatch(/^\+14155550\d{3}$/);

    expect((await numbers.list()).map((n) => n.phoneNumber)).toEqual(["+15555550123", other.phoneNumber]);
    expect((await numbers.list({ phoneNumber: "+1415*******" })).map((n) => n.sid)).toEqual([other.sid]);
    expect((await numbers.list({ friendlyName: "by area code" })).map((n) => n.sid)).toEqual([other.sid]);
    expect(await numbers.list({ pageSize: 1, limit: 5 })).toHaveLength(2);

    const updated = await numbers(bought.sid).update({ smsUrl: "", voiceUrl: "https://example.com/voice" });
    expect(updated).toMatchObject({ smsUrl: null, smsMethod: "GET", voiceUrl: "https://example.com/voice" });
    expect(await numbers(bought.sid).fetch()).toMatchObject({ voiceUrl: "https://example.com/voice" });

    expect(await numbers(bought.sid).remove()).toBe(true);
    await expect(numbers(bought.sid).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    // Released, it can be bought again.
    expect((await numbers.create({ phoneNumber: "+15555550123" })).sid).not.toBe(bought.sid);
  });

  it("refuses what Twilio refuses: a malformed or taken number, a bad area code, a bad URL, no number at all", async () => {
    const { emulator, admin } = harness();
    const numbers = admin.api.v2010.accounts(emulator.accountSid).incomingPhoneNumbers;
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sibling" });
    await numbers.create({ phoneNumber: "+15555550100" });
    const cases: Array<[Parameters<typeof numbers.create>[0], number]> = [
      [{ phoneNumber: "5555550100" }, 21421],
      [{ phoneNumber: "+15555550100" }, 21422],
      [{ areaCode: "015" }, 21451],
      [{ phoneNumber: "+15555550101", smsUrl: "not a url" }, 21402],
      [{ phoneNumber: "+15555550101", voiceUrl: "ftp://example.com/voice" }, 21402],
      [{ friendlyName: "nothing to buy" }, 20001],
    ];
    for (const [params, code] of cases) {
      await expect(numbers.create(params), JSON.stringify(params)).rejects.toMatchObject({ status: 400, code });
    }
    // Taken by another account of the same family is taken too.
    await expect(
      admin.api.v2010.accounts(sub.sid).incomingPhoneNumbers.create({ phoneNumber: "+15555550100" }),
    ).rejects.toMatchObject({ status: 400, code: 21422 });
    expect(emulator.webhooks.phoneNumbers().map((n) => n.phoneNumber)).toEqual(["+15555550100"]);
  });

  it("keeps each account's numbers to itself; the parent moves one between its subaccounts", async () => {
    const { emulator, admin, client } = harness();
    const a = await admin.api.v2010.accounts.create({ friendlyName: "a" });
    const b = await admin.api.v2010.accounts.create({ friendlyName: "b" });
    const ofA = await admin.api.v2010.accounts(a.sid).incomingPhoneNumbers.create({ phoneNumber: "+15555550111" });
    // Not found through another account's path, and another account's credentials do not reach it.
    await expect(
      admin.api.v2010.accounts(emulator.accountSid).incomingPhoneNumbers(ofA.sid).fetch(),
    ).rejects.toMatchObject({ status: 404 });
    const asB = client(b.sid, b.authToken, b.sid);
    await expect(asB.api.v2010.accounts(a.sid).incomingPhoneNumbers.list()).rejects.toMatchObject({ status: 401 });
    // A subaccount cannot take its sibling's number; the parent can move it.
    await expect(
      client(a.sid, a.authToken, a.sid).api.v2010.accounts(a.sid).incomingPhoneNumbers(ofA.sid).update({
        accountSid: b.sid,
      }),
    ).rejects.toMatchObject({ status: 401, code: 20003 });
    const moved = await admin.api.v2010.accounts(a.sid).incomingPhoneNumbers(ofA.sid).update({ accountSid: b.sid });
    expect(moved.accountSid).toBe(b.sid);
    expect((await asB.api.v2010.accounts(b.sid).incomingPhoneNumbers.list()).map((n) => n.sid)).toEqual([ofA.sid]);
  });

  it("lets a Standard key manage numbers, and a Restricted key only with the permission", async () => {
    const { emulator, admin, client } = harness();
    const standard = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "std" });
    const viaStandard = client(standard.sid, standard.secret).api.v2010.accounts(emulator.accountSid);
    const bought = await viaStandard.incomingPhoneNumbers.create({ phoneNumber: "+15555550130" });
    const restricted = await admin.iam.v1.newApiKey.create({
      accountSid: emulator.accountSid,
      keyType: "restricted",
      policy: { allow: [PHONE_NUMBERS_PERMISSION.read] },
    });
    const viaRestricted = client(restricted.sid, restricted.secret).api.v2010.accounts(emulator.accountSid);
    expect((await viaRestricted.incomingPhoneNumbers.list()).map((n) => n.sid)).toEqual([bought.sid]);
    await expect(viaRestricted.incomingPhoneNumbers(bought.sid).remove()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
  });
});

describe("seeding numbers without HTTP", () => {
  it("gives each seeded number a free fictional one, across area codes, never one already bought", async () => {
    const { emulator, admin } = harness();
    await admin.api.v2010.accounts(emulator.accountSid).incomingPhoneNumbers.create({ phoneNumber: "+12005550101" });
    const seeded = Array.from({ length: 250 }, () => emulator.webhooks.seedPhoneNumber().phoneNumber);
    expect(seeded.slice(0, 2)).toEqual(["+12005550100", "+12005550102"]);
    expect(seeded[99]).toBe("+12015550100");
    expect(new Set(seeded).size).toBe(250);
    expect(seeded).not.toContain("+12005550101");
    expect(() => emulator.webhooks.seedPhoneNumber({ phoneNumber: seeded[0] })).toThrow(/not available/);
  });
});

describe("sending from a number", () => {
  it("sends from a number the account bought, refuses one nobody owns (21606) or another account owns (21660)", async () => {
    const { emulator, admin } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "other" });
    const own = await admin.api.v2010.accounts(emulator.accountSid).incomingPhoneNumbers.create({
      phoneNumber: "+15555550140",
    });
    await admin.api.v2010.accounts(sub.sid).incomingPhoneNumbers.create({ phoneNumber: "+15555550141" });
    const messages = admin.api.v2010.accounts(emulator.accountSid).messages;

    const sent = await messages.create({ from: own.phoneNumber, to: "+15558675310", body: "hi" });
    expect(sent).toMatchObject({
      from: "+15555550140",
      to: "+15558675310",
      status: "queued",
      direction: "outbound-api",
    });
    await expect(messages.create({ from: "+15555550199", to: "+15558675310", body: "x" })).rejects.toMatchObject({
      status: 400,
      code: 21606,
    });
    await expect(messages.create({ from: "+15555550141", to: "+15558675310", body: "x" })).rejects.toMatchObject({
      status: 400,
      code: 21660,
    });
    // The subaccount may send from its own number, with its own credentials or the parent's.
    expect(
      (await admin.api.v2010.accounts(sub.sid).messages.create({ from: "+15555550141", to: "+15558675310", body: "x" }))
        .accountSid,
    ).toBe(sub.sid);
    await expect(
      messages.create({ from: own.phoneNumber, to: "+15558675310", body: "x", statusCallback: "callback" }),
    ).rejects.toMatchObject({ status: 400, code: 21502 });
  });
});
