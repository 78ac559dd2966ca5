/** The admin HTTP endpoints for out-of-process tests (`rotator emulator twilio`): tokens, status, fleets. */
import { describe, expect, it } from "vitest";
import { startTwilioEmulator } from "../../src/emulator/index.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

describe("account operations over HTTP", () => {
  it("create and delete a secondary, promote it, reset the primary, per Region", async () => {
    const { emulator, client } = harness();
    const base = `${emulator.baseUrl}/__emulator/accounts/${emulator.accountSid}`;
    const created = await call(`${base}/secondary-token`, "POST");
    expect(created.status).toBe(201);
    const secondary = (created.json as { authToken: string }).authToken;
    expect((await call(`${base}/secondary-token`, "DELETE")).status).toBe(204);
    expect((await call(`${base}/secondary-token`, "DELETE")).status).toBe(404);
    await call(`${base}/secondary-token`, "POST");
    const promoted = await call(`${base}/promote`, "POST");
    expect(promoted.status).toBe(200);
    expect((promoted.json as { authToken: string }).authToken).toBe(emulator.authToken);
    expect(emulator.authToken).not.toBe(secondary);
    expect((await call(`${base}/promote`, "POST")).status).toBe(400);

    const reset = await call(`${base}/rotate-primary-token`, "POST", { region: "ie1" });
    expect((reset.json as { authToken: string }).authToken).toBe(
      emulator.primaryAuthToken(emulator.accountSid, { region: "ie1" }),
    );
    expect((await call(`${base}/rotate-primary-token`, "POST", { region: "xx1" })).status).toBe(400);
    const token = emulator.authToken;
    expect((await client(emulator.accountSid, token).api.v2010.accounts(emulator.accountSid).fetch()).authToken).toBe(
      token,
    );
  });

  it("set any account's status and hand out test credentials", async () => {
    const { emulator, admin } = harness();
    const base = `${emulator.baseUrl}/__emulator/accounts/${emulator.accountSid}`;
    expect((await call(`${base}/status`, "POST", { status: "suspended" })).status).toBe(204);
    await expect(admin.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject({ status: 401 });
    expect((await call(`${base}/status`, "POST", { status: "asleep" })).status).toBe(400);
    expect((await call(`${base}/status`, "POST", { status: "active" })).status).toBe(204);
    const test = await call(`${base}/test-credentials`, "POST");
    expect(test.json).toEqual(emulator.testCredentials());
    expect((await call(`${base}/nothing`, "POST")).status).toBe(404);
    expect((await call(`${emulator.baseUrl}/__emulator/accounts/AC${"0".repeat(32)}/promote`, "POST")).status).toBe(
      400,
    );
  });

  it("create a fleet of subaccounts and seed a Main key in a Region", async () => {
    const { emulator } = harness();
    const fleet = await call(`${emulator.baseUrl}/__emulator/subaccounts`, "POST", {
      count: 3,
      friendlyNamePrefix: "http-",
    });
    expect(fleet.status).toBe(201);
    expect((fleet.json as Array<{ friendlyName: string }>).map((s) => s.friendlyName)).toEqual([
      "http-0",
      "http-1",
      "http-2",
    ]);
    expect((await call(`${emulator.baseUrl}/__emulator/subaccounts`, "POST", { count: "3" })).status).toBe(400);
    const main = await call(`${emulator.baseUrl}/__emulator/main-keys`, "POST", { region: "au1" });
    expect(main.status).toBe(201);
    const keys = await call(`${emulator.baseUrl}/__emulator/keys?region=au1`, "GET");
    expect(keys.json).toMatchObject([{ sid: (main.json as { sid: string }).sid, keyType: "main" }]);
    expect((await call(`${emulator.baseUrl}/__emulator/keys?region=us1`, "GET")).json).toEqual([]);
  });
});

describe("start-up options", () => {
  it("refuse bad regions, limits, behaviours and rate limits with a message naming them", async () => {
    await expect(startTwilioEmulator({ regions: ["ireland"] })).rejects.toThrow(/region ireland/);
    await expect(startTwilioEmulator({ regions: ["ie1"] })).rejects.toThrow(/must include us1/);
    await expect(startTwilioEmulator({ subaccountLimit: -1 })).rejects.toThrow(/subaccountLimit/);
    // @ts-expect-error: not a choice.
    await expect(startTwilioEmulator({ behaviour: { secondaryTokenWhenExists: "merge" } })).rejects.toThrow(
      /invalid behaviour/,
    );
    await expect(startTwilioEmulator({ rateLimit: { requestsPerSecond: -5 } })).rejects.toThrow(/invalid rateLimit/);
  });

  it("hold only the Regions asked for", async () => {
    const emulator = await startTwilioEmulator({ regions: ["us1", "jp1"] });
    try {
      expect(emulator.regions).toEqual(["us1", "jp1"]);
      expect(emulator.snapshot().accounts[0]?.regionalAuthTokens).toEqual({
        jp1: { authToken: expect.objectContaining({ fingerprint: expect.any(String) }), secondaryAuthToken: null },
      });
    } finally {
      await emulator.close();
    }
  });
});
