/**
 * src/twilio/v2010-keys.ts: the issuer's account and Standard-key calls through the client's generic
 * request. Each answers what the client's 2010 resource tree answers for the same key (fields, dates,
 * paging past a full page, errors), and the traffic is held to Twilio's spec like every other here.
 */
import { describe, expect, it } from "vitest";
import { isTwilioApiError } from "../../src/twilio/client.js";
import { v2010Keys } from "../../src/twilio/v2010-keys.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("v2010Keys", () => {
  it("creates a key, then fetches and lists it as the resource tree does", async () => {
    const { emulator, admin } = harness();
    const keys = v2010Keys(admin, emulator.accountSid);
    const created = await keys.createKey("rotator-test");
    expect(created.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(created.secret.length).toBeGreaterThanOrEqual(32);
    expect(created.friendlyName).toBe("rotator-test");

    const tree = await admin.api.v2010.accounts(emulator.accountSid).keys(created.sid).fetch();
    const fetched = await keys.fetchKey(created.sid);
    expect(fetched).toEqual({ sid: tree.sid, friendlyName: tree.friendlyName, dateCreated: tree.dateCreated });
    expect(fetched.dateCreated.getTime()).not.toBeNaN();
    expect((await keys.listKeys()).map((key) => key.sid)).toEqual([created.sid]);
  });

  it("lists every key past a full page of 1,000", async () => {
    const { emulator, admin } = harness();
    for (let i = 0; i < 1_001; i++) emulator.createStandardKey(emulator.accountSid, { friendlyName: `k${i}` });
    const listed = await v2010Keys(admin, emulator.accountSid).listKeys();
    expect(listed).toHaveLength(1_001);
    expect(new Set(listed.map((key) => key.sid)).size).toBe(1_001);
    expect(listed.map((key) => key.sid).sort()).toEqual(
      emulator
        .keys()
        .map((key) => key.sid)
        .sort(),
    );
  });

  it("removes a key; removing or fetching it again is Twilio's 404", async () => {
    const { emulator, admin } = harness();
    const keys = v2010Keys(admin, emulator.accountSid);
    const { sid } = emulator.createStandardKey();
    await keys.removeKey(sid);
    expect(emulator.keys()).toEqual([]);
    for (const again of [() => keys.removeKey(sid), () => keys.fetchKey(sid)]) {
      const error = await again().catch((e: unknown) => e);
      expect(isTwilioApiError(error) && error.status).toBe(404);
    }
  });

  it("the account check: the auth token may read the account, a Standard key is refused with 20003", async () => {
    const { emulator, admin, client } = harness();
    await expect(v2010Keys(admin, emulator.accountSid).fetchAccount()).resolves.toBeUndefined();
    const standard = emulator.createStandardKey();
    const error = await v2010Keys(client(standard.sid, standard.secret), emulator.accountSid)
      .fetchAccount()
      .catch((e: unknown) => e);
    expect(isTwilioApiError(error) && [error.status, error.code]).toEqual([401, 20003]);
  });
});
