/** accounts v1 AuthTokens: secondary token, its deletion (the abort path) and its promotion. */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("POST /v1/AuthTokens/Secondary", () => {
  it("creates a secondary token (201, ISO 8601 dates); primary and secondary both authenticate", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    expect(exchanges.at(-1)?.status).toBe(201);
    const body = exchanges.at(-1)?.body as Record<string, string>;
    expect(body).toMatchObject({
      account_sid: emulator.accountSid,
      url: `${emulator.baseUrl}/v1/AuthTokens/Secondary`,
    });
    expect(body.date_created).toMatch(ISO_8601);
    expect(secondary.secondaryAuthToken).toMatch(/^[0-9a-f]{32}$/);
    expect(secondary.secondaryAuthToken).not.toBe(emulator.authToken);

    const bySecondary = client(emulator.accountSid, secondary.secondaryAuthToken);
    expect((await bySecondary.api.v2010.accounts(emulator.accountSid).fetch()).sid).toBe(emulator.accountSid);
    expect((await admin.api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(emulator.authToken);
  });

  it("replaces an existing secondary token: the earlier one stops working", async () => {
    const { emulator, admin, client } = harness();
    const first = await admin.accounts.v1.secondaryAuthToken().create();
    const second = await admin.accounts.v1.secondaryAuthToken().create();
    expect(second.secondaryAuthToken).not.toBe(first.secondaryAuthToken);
    await expect(
      client(emulator.accountSid, first.secondaryAuthToken).api.v2010.accounts(emulator.accountSid).fetch(),
    ).rejects.toMatchObject({ status: 401, code: 20003 });
  });
});

describe("DELETE /v1/AuthTokens/Secondary", () => {
  it("deletes the secondary (204): it stops at once, the primary keeps working; a second delete is 404", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    const bySecondary = client(emulator.accountSid, secondary.secondaryAuthToken);
    expect(await bySecondary.api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);

    expect(await admin.accounts.v1.secondaryAuthToken().remove()).toBe(true);
    expect(exchanges.at(-1)).toMatchObject({ status: 204, body: "" });
    await expect(bySecondary.api.v2010.accounts(emulator.accountSid).messages.list()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    expect((await admin.api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(emulator.authToken);
    await expect(admin.accounts.v1.secondaryAuthToken().remove()).rejects.toMatchObject({ status: 404, code: 20404 });
    expect(emulator.snapshot().accounts[0]?.secondaryAuthToken).toBeNull();
  });
});

describe("POST /v1/AuthTokens/Promote", () => {
  it("promotes (200): the new primary works, the old primary fails with 20003 at once", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const before = emulator.snapshot().accounts[0]?.authToken.fingerprint;
    const oldToken = emulator.authToken;
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    const promoted = await admin.accounts.v1.authTokenPromotion().update();
    expect(exchanges.at(-1)?.status).toBe(200);
    expect(promoted).toMatchObject({ accountSid: emulator.accountSid, authToken: secondary.secondaryAuthToken });
    expect(exchanges.at(-1)?.body).toMatchObject({ url: `${emulator.baseUrl}/v1/AuthTokens/Promote` });

    await expect(admin.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    expect(exchanges.at(-1)?.headers["www-authenticate"]).toBe('Basic realm="Twilio API"');
    expect(emulator.authToken).toBe(promoted.authToken);
    const byNew = client(emulator.accountSid, promoted.authToken);
    expect((await byNew.api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(promoted.authToken);

    expect(oldToken).not.toBe(promoted.authToken);
    const after = emulator.snapshot().accounts[0];
    expect(after?.authToken.fingerprint).not.toBe(before);
    expect(after?.secondaryAuthToken).toBeNull();
    // The secondary was consumed: promoting again has nothing to promote.
    await expect(byNew.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  it("answers 404 (20404) naming the path when there is no secondary token", async () => {
    const { admin } = harness();
    await expect(admin.accounts.v1.authTokenPromotion().update()).rejects.toMatchObject({
      status: 404,
      code: 20404,
      message: expect.stringContaining("The requested resource /v1/AuthTokens/Promote was not found"),
    });
  });

  it("can be called with the secondary token itself", async () => {
    const { emulator, admin, client } = harness();
    const secondary = await admin.accounts.v1.secondaryAuthToken().create();
    const bySecondary = client(emulator.accountSid, secondary.secondaryAuthToken);
    expect((await bySecondary.accounts.v1.authTokenPromotion().update()).authToken).toBe(secondary.secondaryAuthToken);
    expect((await bySecondary.api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(
      secondary.secondaryAuthToken,
    );
  });

  it("acts on the caller's own account only: a subaccount's tokens are untouched by the parent's rotation", async () => {
    const { emulator, admin, client } = harness();
    const sub = await admin.api.v2010.accounts.create({ friendlyName: "sub" });
    const subClient = client(sub.sid, sub.authToken, sub.sid);
    const subSecondary = await subClient.accounts.v1.secondaryAuthToken().create();
    await admin.accounts.v1.secondaryAuthToken().create();
    await admin.accounts.v1.authTokenPromotion().update();
    expect((await subClient.api.v2010.accounts(sub.sid).fetch()).authToken).toBe(sub.authToken);
    const subAccount = emulator.snapshot().accounts.find((a) => a.sid === sub.sid);
    expect(subAccount?.secondaryAuthToken).not.toBeNull();
    expect(subSecondary.accountSid).toBe(sub.sid);
  });
});
