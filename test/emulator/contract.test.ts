/**
 * Every route the emulator serves, driven once through the official client, each response held to the
 * spec: the set of operations exercised must equal the set the emulator serves.
 */
import { describe, expect, it } from "vitest";
import { TEST_FROM } from "../../src/emulator/index.js";
import { Router } from "../../src/emulator/router.js";
import { TwilioSpecs } from "../../src/emulator/spec.js";
import { SPEC_DIR, specContract } from "./helpers/contract.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("spec contract", () => {
  it("serves every route through the official client with spec-conformant responses", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const sid = emulator.accountSid;
    const api = admin.api.v2010;

    await api.accounts(sid).fetch();
    await api.accounts.list();
    const sub = await api.accounts.create({ friendlyName: "contract sub" });
    await api.accounts(sub.sid).update({ friendlyName: "contract sub, renamed" });

    const key = await api.accounts(sid).newKeys.create({ friendlyName: "v2010 key" });
    await api.accounts(sid).keys.list();
    await api.accounts(sid).keys(key.sid).fetch();
    await api.accounts(sid).keys(key.sid).update({ friendlyName: "v2010 key, renamed" });
    await api.accounts(sid).keys(key.sid).remove();
    await api.accounts(sid).messages.list({ pageSize: 1 });
    const bought = await api.accounts(sid).incomingPhoneNumbers.create({
      phoneNumber: "+15555550100",
      smsUrl: "https://example.com/sms",
    });
    await api.accounts(sid).incomingPhoneNumbers.list({ phoneNumber: "+1555555****" });
    await api.accounts(sid).incomingPhoneNumbers(bought.sid).fetch();
    await api.accounts(sid).incomingPhoneNumbers(bought.sid).update({ voiceUrl: "https://example.com/voice" });
    await api.accounts(sid).messages.create({ from: bought.phoneNumber, to: "+15558675310", body: "contract" });
    await api.accounts(sid).incomingPhoneNumbers(bought.sid).remove();
    const test = emulator.testCredentials();
    await client(test.accountSid, test.authToken, test.accountSid)
      .api.v2010.accounts(test.accountSid)
      .messages.create({ from: TEST_FROM, to: "+15558675310", body: "contract" });

    const v1 = await admin.iam.v1.newApiKey.create({
      accountSid: sid,
      friendlyName: "v1 key",
      keyType: "restricted",
      policy: { allow: ["/twilio/messaging/messages/read"] },
    });
    await admin.iam.v1.getApiKeys.list({ accountSid: sid });
    await admin.iam.v1.apiKey(v1.sid).fetch();
    await admin.iam.v1.apiKey(v1.sid).update({ friendlyName: "v1 key, renamed" });
    await admin.iam.v1.apiKey(v1.sid).remove();

    await admin.accounts.v1.secondaryAuthToken().create();
    await admin.accounts.v1.secondaryAuthToken().remove();
    await admin.accounts.v1.secondaryAuthToken().create();
    await admin.accounts.v1.authTokenPromotion().update();

    const contract = specContract();
    const exercised = new Set(exchanges.map((e) => key3(contract.assertConforms(e))));
    const served = new Router(TwilioSpecs.load(SPEC_DIR)).operations().map((op) => key3(op));
    expect(served).toHaveLength(24);
    expect([...exercised].sort()).toEqual([...served].sort());
    // Every success status is one the spec declares, and they are the expected ones.
    const statuses = Object.fromEntries(
      exchanges.map((e) => [`${e.method} ${e.url.pathname.replace(/[A-Z]{2}[0-9a-f]{32}/g, "{sid}")}`, e.status]),
    );
    expect(statuses).toMatchObject({
      "POST /2010-04-01/Accounts.json": 201,
      "POST /2010-04-01/Accounts/{sid}/Keys.json": 201,
      "POST /2010-04-01/Accounts/{sid}/Messages.json": 201,
      "DELETE /2010-04-01/Accounts/{sid}/Keys/{sid}.json": 204,
      "POST /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json": 201,
      "POST /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers/{sid}.json": 200,
      "DELETE /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers/{sid}.json": 204,
      "POST /v1/Keys": 201,
      "DELETE /v1/Keys/{sid}": 204,
      "POST /v1/AuthTokens/Secondary": 201,
      "DELETE /v1/AuthTokens/Secondary": 204,
      "POST /v1/AuthTokens/Promote": 200,
    });
  });

  it("rejects bodies that break the spec (the checker itself is not vacuous)", () => {
    const contract = specContract();
    const url = new URL(
      "http://127.0.0.1/2010-04-01/Accounts/AC00000000000000000000000000000000/Keys/SK00000000000000000000000000000000.json",
    );
    const good = {
      sid: "SK00000000000000000000000000000000",
      friendly_name: "k",
      date_created: "Mon, 13 Jun 2016 22:50:08 +0000",
      date_updated: "Mon, 13 Jun 2016 22:50:08 +0000",
    };
    const exchange = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
      method: "GET",
      url,
      status,
      body,
      headers,
    });
    expect(contract.assertConforms(exchange(200, good)).operationId).toBe("FetchKey");
    expect(() => contract.assertConforms(exchange(201, good))).toThrow(/declares only 200/);
    expect(() => contract.assertConforms(exchange(200, { ...good, secret: "x" }))).toThrow(/additional/);
    expect(() => contract.assertConforms(exchange(200, { ...good, date_created: "2016-06-13T22:50:08Z" }))).toThrow(
      /date-time-rfc-2822/,
    );
    expect(() =>
      contract.assertConforms(exchange(200, { ...good, sid: "KS00000000000000000000000000000000" })),
    ).toThrow(/pattern/);
    const { friendly_name: _omitted, ...missing } = good;
    expect(() => contract.assertConforms(exchange(200, missing))).toThrow(/friendly_name/);
    const error = {
      code: 20003,
      message: "Authenticate",
      more_info: "https://www.twilio.com/docs/errors/20003",
      status: 401,
    };
    expect(() => contract.assertConforms(exchange(401, error))).toThrow(/WWW-Authenticate/);
    expect(() =>
      contract.assertConforms(exchange(401, error, { "www-authenticate": 'Basic realm="Twilio API"' })),
    ).not.toThrow();
    expect(() => contract.assertConforms(exchange(404, { ...error, status: 401 }))).toThrow(/status differs/);
  });
});

function key3(op: { spec: string; method: string; path?: string; template?: string }): string {
  return `${op.spec} ${op.method} ${op.path ?? op.template}`;
}
