/**
 * What Auth Token rotation (issue #9) depends on: one secondary at a time, the secondary good everywhere
 * the primary is, promotion without grace and only of the caller's own account, the programmatic handle
 * for scenarios "behind the rotator's back", and faults on the AuthTokens endpoints.
 */
import { describe, expect, it } from "vitest";
import type { TwilioClient } from "../../src/twilio/client.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const AUTHENTICATE = { status: 401, code: 20003 };

/** Everything a primary token may call, each expected to succeed with a token of the same account. */
function everyCall(c: TwilioClient, sid: string): Array<[string, () => Promise<unknown>]> {
  return [
    ["fetch account", () => c.api.v2010.accounts(sid).fetch()],
    ["list accounts", () => c.api.v2010.accounts.list()],
    ["create subaccount", () => c.api.v2010.accounts.create({ friendlyName: "by secondary" })],
    ["rename account", () => c.api.v2010.accounts(sid).update({ friendlyName: "renamed by secondary" })],
    ["list keys v2010", () => c.api.v2010.accounts(sid).keys.list()],
    ["create key v2010", () => c.api.v2010.accounts(sid).newKeys.create({ friendlyName: "by secondary" })],
    ["list keys v1", () => c.iam.v1.getApiKeys.list({ accountSid: sid })],
    ["create key v1", () => c.iam.v1.newApiKey.create({ accountSid: sid, friendlyName: "by secondary" })],
    ["list messages", () => c.api.v2010.accounts(sid).messages.list({ limit: 1 })],
  ];
}

describe("one secondary at a time", () => {
  it("by default a second create replaces the first, which fails at once; the snapshot shows one", async () => {
    const { emulator, admin, client } = harness();
    const first = await admin.accounts.v1.secondaryAuthToken().create();
    const second = await admin.accounts.v1.secondaryAuthToken().create();
    await expect(
      client(emulator.accountSid, first.secondaryAuthToken).api.v2010.accounts(emulator.accountSid).fetch(),
    ).rejects.toMatchObject(AUTHENTICATE);
    expect(
      (await client(emulator.accountSid, second.secondaryAuthToken).api.v2010.accounts(emulator.accountSid).fetch())
        .sid,
    ).toBe(emulator.accountSid);
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).not.toBeNull();
  });

  describe("secondaryTokenWhenExists: reject", () => {
    const strict = useEmulator({ behaviour: { secondaryTokenWhenExists: "reject" } });

    it("answers 400 (20001) and keeps the existing secondary working; after a delete, create works", async () => {
      const { emulator, admin, client } = strict();
      const first = await admin.accounts.v1.secondaryAuthToken().create();
      const before = emulator.snapshot();
      await expect(admin.accounts.v1.secondaryAuthToken().create()).rejects.toMatchObject({
        status: 400,
        code: 20001,
        message: expect.stringContaining("already exists"),
      });
      expect(emulator.snapshot()).toEqual(before);
      const byFirst = client(emulator.accountSid, first.secondaryAuthToken);
      expect((await byFirst.api.v2010.accounts(emulator.accountSid).fetch()).sid).toBe(emulator.accountSid);
      await admin.accounts.v1.secondaryAuthToken().remove();
      expect((await admin.accounts.v1.secondaryAuthToken().create()).secondaryAuthToken).toMatch(/^[0-9a-f]{32}$/);
    });
  });
});

describe("the secondary token", () => {
  it("authenticates from the moment it exists, on every endpoint the primary may call", async () => {
    const { emulator, admin, client } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    const bySecondary = client(emulator.accountSid, secondary.secondaryAuthToken);
    for (const [name, call] of everyCall(bySecondary, emulator.accountSid)) {
      await expect(call(), name).resolves.toBeDefined();
    }
    // The Account resource still shows the primary: the secondary is not the account's token yet.
    expect((await bySecondary.api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(emulator.authToken);
  });
});

describe("promotion", () => {
  it("kills the old primary on the very next request, on every endpoint (no grace)", async () => {
    const { emulator, admin, client } = harness();
    const old = client(emulator.accountSid, emulator.authToken);
    await admin.accounts.v1.secondaryAuthToken().create();
    await admin.accounts.v1.authTokenPromotion().update();
    for (const [name, call] of everyCall(old, emulator.accountSid)) {
      await expect(call(), name).rejects.toMatchObject(AUTHENTICATE);
    }
    await expect(old.accounts.v1.secondaryAuthToken().create()).rejects.toMatchObject(AUTHENTICATE);
  });

  it("acts on the credential's own account: the parent's token promotes the parent, never a subaccount", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    await client(sub.sid, sub.authToken, sub.sid).accounts.v1.secondaryAuthToken().create();
    // The client's accountSid option names the subaccount, but the AuthTokens API names no account: the
    // request is the parent's, and the parent has no secondary.
    const parentOnSub = client(emulator.accountSid, emulator.authToken, sub.sid);
    await expect(parentOnSub.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
    // The subaccount's SID with the parent's token is simply a wrong pair.
    const mixed = client(sub.sid, emulator.authToken, sub.sid);
    await expect(mixed.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject(AUTHENTICATE);
    const subAccount = emulator.snapshot().accounts.find((a) => a.sid === sub.sid);
    expect(subAccount?.secondaryAuthToken).not.toBeNull();
    expect(emulator.primaryAuthToken(sub.sid)).toBe(sub.authToken);
  });

  it("answers 404 (20404) with nothing to promote, and leaves the primary alone", async () => {
    const { emulator, admin } = harness();
    const before = emulator.snapshot();
    await expect(admin.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({ status: 404, code: 20404 });
    expect(emulator.snapshot()).toEqual(before);
  });
});

describe("the programmatic handle", () => {
  it("creates, promotes and deletes secondaries and resets the primary behind the rotator's back", async () => {
    const issued: string[] = [];
    const { emulator, client } = harness();
    // A second emulator with the hook, to see every secret these calls issue.
    const { startTwilioEmulator } = await import("../../src/emulator/index.js");
    const watched = await startTwilioEmulator({ onSecretIssued: (s) => issued.push(s) });
    try {
      const secondary = watched.createSecondaryToken();
      expect(issued).toContain(secondary);
      const promoted = watched.promote();
      expect(promoted).toBe(secondary);
      expect(watched.authToken).toBe(secondary);
      expect(() => watched.promote()).toThrow(/no secondary token/);
      const reset = watched.rotatePrimaryToken();
      expect(issued).toContain(reset);
      expect(watched.authToken).toBe(reset);
    } finally {
      await watched.close();
    }

    const old = emulator.authToken;
    const secondary = emulator.createSecondaryToken();
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).not.toBeNull();
    expect(emulator.deleteSecondaryToken()).toBe(true);
    expect(emulator.deleteSecondaryToken()).toBe(false);
    await expect(
      client(emulator.accountSid, secondary).api.v2010.accounts(emulator.accountSid).fetch(),
    ).rejects.toMatchObject(AUTHENTICATE);

    const reset = emulator.rotatePrimaryToken();
    await expect(
      client(emulator.accountSid, old).api.v2010.accounts(emulator.accountSid).fetch(),
    ).rejects.toMatchObject(AUTHENTICATE);
    expect((await client(emulator.accountSid, reset).api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(
      reset,
    );
    expect(() => emulator.promote(`AC${"0".repeat(32)}`)).toThrow(/no account/);
  });

  it("reports the primary's fingerprint and age and whether a secondary is left over", async () => {
    const { emulator, admin } = harness();
    const before = emulator.snapshot().accounts[0];
    expect(before?.authToken).toEqual({
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{16}$/),
      dateCreated: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
    });
    expect(before?.secondaryAuthToken).toBeNull();
    await admin.accounts.v1.secondaryAuthToken().create();
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).not.toBeNull();
    await admin.accounts.v1.authTokenPromotion().update();
    const after = emulator.snapshot().accounts[0];
    expect(after?.secondaryAuthToken).toBeNull();
    expect(after?.authToken.fingerprint).not.toBe(before?.authToken.fingerprint);
  });
});

describe("faults on the AuthTokens endpoints", () => {
  it("a 5xx on promote (before it acts) leaves both tokens as they were", async () => {
    const { emulator, admin, client } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    emulator.faults.add({ kind: "server-error", status: 503, path: "/v1/AuthTokens/Promote", times: 1 });
    const before = emulator.snapshot();
    await expect(admin.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({ status: 503, code: 20503 });
    expect(emulator.snapshot()).toEqual(before);
    expect(
      (await client(emulator.accountSid, secondary.secondaryAuthToken).accounts.v1.authTokenPromotion().update())
        .authToken,
    ).toBe(secondary.secondaryAuthToken);
  });

  it("a lost response: the promotion happens, the connection drops, and the old primary is dead", async () => {
    const { emulator, admin, client } = harness();
    const old = emulator.authToken;
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    const fault = emulator.faults.add({ kind: "lost-response", method: "POST", path: "/v1/AuthTokens/Promote" });
    const error = await admin.accounts.v1
      .authTokenPromotion()
      .update()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toHaveProperty("status");
    expect(emulator.faults.get(fault.id)?.fired).toBe(1);
    expect(emulator.authToken).toBe(secondary.secondaryAuthToken);
    await expect(
      client(emulator.accountSid, old).api.v2010.accounts(emulator.accountSid).fetch(),
    ).rejects.toMatchObject(AUTHENTICATE);
    expect(emulator.stats().dropped).toBe(1);
  });

  it("a 5xx after acting: the caller sees 502 although the promotion happened", async () => {
    const { emulator, admin } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    emulator.faults.add({ kind: "lost-response", status: 502, path: "/v1/AuthTokens/Promote", times: 1 });
    await expect(admin.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({ status: 502, code: 20500 });
    expect(emulator.authToken).toBe(secondary.secondaryAuthToken);
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).toBeNull();
  });

  it("a lost response on a failed request does not fire: the 404 arrives as it is", async () => {
    const { emulator, admin } = harness();
    const fault = emulator.faults.add({ kind: "lost-response", path: "/v1/AuthTokens/Promote" });
    await expect(admin.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({ status: 404 });
    expect(emulator.faults.get(fault.id)?.fired).toBe(0);
  });

  it("latency on secondary create delays the answer, then the token works", async () => {
    const { emulator, admin, client } = harness();
    emulator.faults.add({ kind: "latency", latencyMs: 250, path: "/v1/AuthTokens/Secondary", method: "POST" });
    const started = Date.now();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    expect(Date.now() - started).toBeGreaterThanOrEqual(230);
    expect(
      (await client(emulator.accountSid, secondary.secondaryAuthToken).api.v2010.accounts(emulator.accountSid).fetch())
        .sid,
    ).toBe(emulator.accountSid);
  });
});
