/** Fault injection, in-process and over the admin HTTP endpoints. */
import { describe, expect, it } from "vitest";
import { isTwilioApiError } from "../../src/twilio/client.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();
const KEYS = "/2010-04-01/Accounts/*/Keys.json";

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("rate-limit faults", () => {
  it("answer 429 (20429) with Retry-After, surfaced as TwilioApiError.retryAfterMs, for `times` requests", async () => {
    const { emulator, admin, exchanges } = harness();
    const fault = emulator.faults.add({
      kind: "rate-limit",
      method: "GET",
      path: KEYS,
      retryAfterSeconds: 3,
      times: 2,
    });
    const keys = admin.api.v2010.accounts(emulator.accountSid).keys;
    for (let i = 0; i < 2; i++) {
      const error = await failure(keys.list());
      expect(isTwilioApiError(error)).toBe(true);
      expect(error).toMatchObject({ status: 429, code: 20429, retryAfterMs: 3000 });
    }
    expect(exchanges.at(-1)?.headers["retry-after"]).toBe("3");
    expect(await keys.list()).toEqual([]);
    expect(emulator.faults.get(fault.id)).toMatchObject({ fired: 2, remaining: 0 });
  });

  it("leave retryAfterMs undefined when no Retry-After is configured, and stop once removed", async () => {
    const { emulator, admin } = harness();
    const fault = emulator.faults.add({ kind: "rate-limit" });
    const error = await failure(admin.api.v2010.accounts(emulator.accountSid).fetch());
    expect(error).toMatchObject({ status: 429, code: 20429, retryAfterMs: undefined });
    expect(emulator.faults.remove(fault.id)).toBe(true);
    expect((await admin.api.v2010.accounts(emulator.accountSid).fetch()).sid).toBe(emulator.accountSid);
    expect(emulator.faults.remove(fault.id)).toBe(false);
  });

  it("hit before authentication: a 429 is never processed, so nothing changes", async () => {
    const { emulator, client } = harness();
    emulator.faults.add({ kind: "rate-limit", method: "POST", times: 1 });
    const before = emulator.snapshot();
    const error = await failure(
      client(emulator.accountSid, "wrong".padEnd(32, "0")).api.v2010.accounts(emulator.accountSid).newKeys.create(),
    );
    expect(error).toMatchObject({ status: 429 });
    expect(emulator.snapshot()).toEqual(before);
  });
});

describe("server-error faults", () => {
  it.each([
    [500, 20500],
    [502, 20500],
    [503, 20503],
  ] as const)("answer %i with a Twilio-shaped body (code %i)", async (status, code) => {
    const { emulator, admin, exchanges } = harness();
    emulator.faults.add({ kind: "server-error", status, path: "/v1/Keys", times: 1 });
    const error = await failure(admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid }));
    expect(error).toMatchObject({ status, code });
    expect(exchanges.at(-1)?.body).toMatchObject({
      status,
      code,
      more_info: `https://www.twilio.com/docs/errors/${code}`,
    });
    expect(emulator.keys()).toEqual([]);
    expect((await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid })).sid).toMatch(/^SK/);
  });

  it("take a custom code and message", async () => {
    const { emulator, admin } = harness();
    emulator.faults.add({ kind: "server-error", status: 503, code: 20503, message: "Try again later" });
    const error = await failure(admin.accounts.v1.authTokenPromotion().update());
    expect(error).toMatchObject({ status: 503, code: 20503, message: expect.stringContaining("Try again later") });
  });
});

describe("latency faults", () => {
  it("delay matching requests only, and count each delayed request", async () => {
    const { emulator, admin } = harness();
    const fault = emulator.faults.add({
      kind: "latency",
      latencyMs: 300,
      method: "GET",
      path: "/2010-04-01/Accounts/*.json",
    });
    let started = Date.now();
    await admin.api.v2010.accounts(emulator.accountSid).fetch();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    started = Date.now();
    await admin.api.v2010.accounts(emulator.accountSid).keys.list();
    expect(Date.now() - started).toBeLessThan(250);
    expect(emulator.faults.get(fault.id)?.fired).toBe(1);
  });

  it("combine with an error fault: the delay comes first, then the error", async () => {
    const { emulator, admin } = harness();
    emulator.faults.add({ kind: "latency", latencyMs: 200 });
    emulator.faults.add({ kind: "server-error", status: 502, times: 1 });
    const started = Date.now();
    expect(await failure(admin.api.v2010.accounts(emulator.accountSid).fetch())).toMatchObject({ status: 502 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(emulator.faults.list().map((f) => f.fired)).toEqual([1, 1]);
  });
});

describe("key-activation-delay faults", () => {
  it("make a new key answer 401 (20003) until the delay has passed, for `times` keys", async () => {
    const { emulator, admin, client } = harness();
    const fault = emulator.faults.add({ kind: "key-activation-delay", delayMs: 800, times: 1 });
    // Taken before the create request, so the key cannot have become active earlier than created + 800.
    const created = Date.now();
    const slow = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "slow" });
    const slowClient = client(slow.sid, slow.secret);
    await expect(slowClient.api.v2010.accounts(emulator.accountSid).messages.list()).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    let attempts = 1;
    for (;;) {
      try {
        await slowClient.api.v2010.accounts(emulator.accountSid).messages.list();
        break;
      } catch (error) {
        expect(error).toMatchObject({ status: 401, code: 20003 });
        if (Date.now() - created > 5000) throw new Error("the key never became active");
        attempts++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(Date.now() - created).toBeGreaterThanOrEqual(800);
    expect(attempts).toBeGreaterThan(1);

    // `times: 1` is spent: the next key works at once.
    const fast = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    expect(await client(fast.sid, fast.secret).api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
    expect(emulator.faults.get(fault.id)).toMatchObject({ fired: 1, remaining: 0 });
  });

  it("apply only to keys created by matching requests", async () => {
    const { emulator, admin, client } = harness();
    emulator.faults.add({ kind: "key-activation-delay", delayMs: 60_000, path: "/v1/Keys" });
    const v2010 = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "v2010" });
    expect(await client(v2010.sid, v2010.secret).api.v2010.accounts(emulator.accountSid).messages.list()).toEqual([]);
    const v1 = await admin.iam.v1.newApiKey.create({ accountSid: emulator.accountSid });
    await expect(
      client(v1.sid, v1.secret).api.v2010.accounts(emulator.accountSid).messages.list(),
    ).rejects.toMatchObject({
      status: 401,
    });
  });
});

describe("matching", () => {
  it("matches exact paths, globs, RegExps and method filters", async () => {
    const { emulator, admin } = harness();
    const sid = emulator.accountSid;
    const exact = emulator.faults.add({ kind: "latency", latencyMs: 0, path: `/2010-04-01/Accounts/${sid}.json` });
    const glob = emulator.faults.add({ kind: "latency", latencyMs: 0, path: "/2010-04-01/**" });
    const regex = emulator.faults.add({ kind: "latency", latencyMs: 0, path: /\/Keys(\.json)?$/ });
    const jsonRegex = emulator.faults.add({ kind: "latency", latencyMs: 0, pathRegex: "^/v1/" });
    const postOnly = emulator.faults.add({ kind: "latency", latencyMs: 0, method: "POST" });

    await admin.api.v2010.accounts(sid).fetch();
    await admin.api.v2010.accounts(sid).keys.list();
    await admin.iam.v1.getApiKeys.list({ accountSid: sid });
    const fired = (id: string) => emulator.faults.get(id)?.fired;
    expect([fired(exact.id), fired(glob.id), fired(regex.id), fired(jsonRegex.id), fired(postOnly.id)]).toEqual([
      1, 2, 2, 1, 0,
    ]);
    expect(emulator.faults.get(regex.id)).toMatchObject({ pathRegex: "\\/Keys(\\.json)?$" });

    emulator.faults.clear();
    expect(emulator.faults.list()).toEqual([]);
  });

  it("rejects invalid faults with a message naming the problem", () => {
    const { emulator } = harness();
    // @ts-expect-error: 418 is not a status the server-error fault allows.
    expect(() => emulator.faults.add({ kind: "server-error", status: 418 })).toThrow(/invalid fault/);
    expect(() => emulator.faults.add({ kind: "latency", latencyMs: -1 })).toThrow(/invalid fault/);
    expect(() => emulator.faults.add({ kind: "rate-limit", path: "no-slash" })).toThrow(/path must start with/);
    expect(() => emulator.faults.add({ kind: "rate-limit", pathRegex: "(" })).toThrow(/not a valid regular expression/);
    expect(() => emulator.faults.add({ kind: "rate-limit", times: 0 })).toThrow(/invalid fault/);
    expect(emulator.faults.list()).toEqual([]);
  });
});

describe("admin HTTP endpoints", () => {
  it("add, read, count and remove faults over HTTP with JSON", async () => {
    const { emulator, admin } = harness();
    const base = `${emulator.baseUrl}/__emulator`;
    const json = { "Content-Type": "application/json" };
    const added = await fetch(`${base}/faults`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ kind: "rate-limit", method: "GET", path: KEYS, retryAfterSeconds: 1, times: 1 }),
    });
    expect(added.status).toBe(201);
    const fault = (await added.json()) as { id: string };
    expect(fault).toMatchObject({ kind: "rate-limit", fired: 0, remaining: 1 });

    const error = await failure(admin.api.v2010.accounts(emulator.accountSid).keys.list());
    expect(error).toMatchObject({ status: 429, retryAfterMs: 1000 });
    expect(await (await fetch(`${base}/faults/${fault.id}`)).json()).toMatchObject({
      id: fault.id,
      fired: 1,
      remaining: 0,
    });
    expect(await (await fetch(`${base}/faults`)).json()).toHaveLength(1);

    const invalid = await fetch(`${base}/faults`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ kind: "nope" }),
    });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/invalid fault/);
    const notJson = await fetch(`${base}/faults`, { method: "POST", headers: json, body: "{" });
    expect(notJson.status).toBe(400);

    expect((await fetch(`${base}/faults/${fault.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(`${base}/faults/${fault.id}`)).status).toBe(404);
    await fetch(`${base}/faults`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ kind: "latency", latencyMs: 1 }),
    });
    expect((await fetch(`${base}/faults`, { method: "DELETE" })).status).toBe(204);
    expect(emulator.faults.list()).toEqual([]);
  });

  it("serve the snapshot, the keys helper and Main-key seeding", async () => {
    const { emulator, client } = harness();
    const base = `${emulator.baseUrl}/__emulator`;
    expect(await (await fetch(`${base}/snapshot`)).json()).toEqual(emulator.snapshot());

    const seeded = await fetch(`${base}/main-keys`, { method: "POST" });
    expect(seeded.status).toBe(201);
    const main = (await seeded.json()) as { sid: string; secret: string };
    expect(
      (await client(main.sid, main.secret).iam.v1.getApiKeys.list({ accountSid: emulator.accountSid })).map(
        (k) => k.sid,
      ),
    ).toEqual([main.sid]);
    const keys = (await (await fetch(`${base}/keys`)).json()) as Array<{ sid: string; keyType: string }>;
    expect(keys).toMatchObject([{ sid: main.sid, keyType: "main" }]);
    expect(JSON.stringify(keys)).not.toContain(main.secret);

    const unknown = await fetch(`${base}/main-keys`, {
      method: "POST",
      body: JSON.stringify({ accountSid: `AC${"0".repeat(32)}` }),
    });
    expect(unknown.status).toBe(400);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });
});
