/**
 * The API-key issuer against the Twilio emulator, with the emulator's fault injection standing in for
 * Twilio's bad days: 429 with Retry-After, 5xx, a new key that takes time to start working, and 4xx that
 * must not be retried.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyIssuer, type ApiKeyIssuerOptions } from "../../src/credentials/api-key/issuer.js";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { PreflightError } from "../../src/errors.js";

let emulator: TwilioEmulator;
const retries: string[] = [];

function issuer(overrides: Partial<ApiKeyIssuerOptions> = {}): ApiKeyIssuer {
  return new ApiKeyIssuer({
    admin: {
      accountSid: emulator.accountSid,
      username: emulator.accountSid,
      password: emulator.authToken,
      passwordSource: "test",
    },
    baseUrl: emulator.baseUrl,
    keyType: "standard",
    friendlyNamePrefix: "issuer-test",
    verifyPath: "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1",
    propagationTimeoutMs: 10_000,
    revokeConfirmTimeoutMs: 2_000,
    retry: { retries: 3, minTimeoutMs: 50, maxTimeoutMs: 200, maxRetryAfterMs: 5_000 },
    onRetry: (what) => retries.push(what),
    ...overrides,
  });
}

beforeAll(async () => {
  emulator = await startTwilioEmulator({ port: 0 });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.faults.clear();
  retries.length = 0;
});

describe("ApiKeyIssuer", () => {
  it("issues, verifies, finds by run, revokes and confirms Twilio refuses the revoked key", async () => {
    const subject = issuer();
    const issued = await subject.issue("run-1");
    expect(issued.id).toMatch(/^SK[0-9a-f]{32}$/);
    expect((await subject.verifyAuthenticates(issued.credential)).attempts).toBe(1);
    expect(await subject.findCreatedBy("run-1")).toEqual([issued.id]);
    expect(await subject.describe(issued.id)).toMatchObject({ id: issued.id, friendlyName: "issuer-test-run-1" });
    expect(await subject.revoke(issued.id)).toBe("deleted");
    expect(await subject.confirmRefused(issued.credential)).toBe(true);
    expect(await subject.revoke(issued.id)).toBe("absent");
    expect(await subject.describe(issued.id)).toBeUndefined();
  });

  it("retries a 429 and honours its Retry-After", async () => {
    const fault = emulator.faults.add({
      kind: "rate-limit",
      retryAfterSeconds: 1,
      method: "POST",
      path: "/2010-04-01/Accounts/*/Keys.json",
      times: 1,
    });
    const started = Date.now();
    const issued = await issuer().issue("run-429");
    // Waiting at least what Twilio asked for is the behaviour under test, not a speed measurement.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(emulator.faults.get(fault.id)?.fired).toBe(1);
    expect(retries).toEqual(["create key"]);
    expect(emulator.keys().filter((k) => k.sid === issued.id)).toHaveLength(1);
  });

  it("retries 5xx on every call, and gives up after the bounded number of attempts", async () => {
    const verifyFault = emulator.faults.add({
      kind: "server-error",
      status: 503,
      method: "GET",
      path: "/2010-04-01/Accounts/*/Messages.json",
      times: 2,
    });
    const subject = issuer();
    const issued = await subject.issue("run-5xx");
    expect((await subject.verifyAuthenticates(issued.credential)).attempts).toBe(3);
    expect(emulator.faults.get(verifyFault.id)?.fired).toBe(2);

    emulator.faults.add({ kind: "server-error", status: 500, method: "DELETE", path: "/2010-04-01/Accounts/*/Keys/*" });
    await expect(subject.discard(issued.id)).rejects.toThrow(/HTTP 500/);
    expect(retries.filter((r) => r === "delete key")).toHaveLength(3);
    emulator.faults.clear();
    expect(await subject.discard(issued.id)).toBe("deleted");
  });

  it("waits out a new key's propagation delay (401 20003 right after creation)", async () => {
    emulator.faults.add({ kind: "key-activation-delay", delayMs: 1200, times: 1 });
    const subject = issuer();
    const issued = await subject.issue("run-propagation");
    const outcome = await subject.verifyAuthenticates(issued.credential);
    expect(outcome.attempts).toBeGreaterThan(1);
    await subject.discard(issued.id);
  });

  it("stops waiting at the propagation deadline with a message that names the key masked", async () => {
    emulator.faults.add({ kind: "key-activation-delay", delayMs: 60_000, times: 1 });
    const subject = issuer({ propagationTimeoutMs: 800 });
    const issued = await subject.issue("run-never");
    const error = await subject.verifyAuthenticates(issued.credential).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^the new key SK…[0-9a-f]{4} did not authenticate within 1 s/);
    expect((error as Error).message).not.toContain(issued.id);
    await subject.discard(issued.id);
  });

  it("does not retry a 4xx other than 429: a verify path the key may not call fails at the first attempt", async () => {
    const subject = issuer({ verifyPath: "/2010-04-01/Accounts/{AccountSid}/NoSuchThing.json" });
    const issued = await subject.issue("run-404");
    const error = (await subject.verifyAuthenticates(issued.credential).catch((e: Error) => e)) as Error;
    expect(error.message).toContain("(1 attempts)");
    expect(error.message).toContain("HTTP 404");
    expect(retries).toEqual([]);
    await subject.discard(issued.id);
  });

  it("explains a 20003 on the admin credential without showing it", async () => {
    const wrong = "0".repeat(31);
    const error = await issuer({
      admin: {
        accountSid: emulator.accountSid,
        username: emulator.accountSid,
        password: wrong,
        passwordSource: "env T",
      },
    })
      .checkAdmin()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    const text = (error as PreflightError).problems.join("\n");
    expect(text).toContain("HTTP 401, error 20003");
    expect(text).toContain("the auth token (env T) is 31 characters");
    expect(text).not.toContain(wrong);
  });
});
