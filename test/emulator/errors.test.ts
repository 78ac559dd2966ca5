/** Unknown resources (404 20404), unsupported methods (405), bad parameters (400), and never a 500. */
import { describe, expect, it } from "vitest";
import { Router } from "../../src/emulator/router.js";
import { ROUTES } from "../../src/emulator/routes.js";
import { TwilioSpecs } from "../../src/emulator/spec.js";
import { SPEC_DIR } from "./helpers/contract.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator();

describe("unknown resources", () => {
  it("answers 404 (20404) naming the path for a Twilio path the emulator does not serve", async () => {
    const { emulator, admin } = harness();
    const path = `/2010-04-01/Accounts/${emulator.accountSid}/Calls.json`;
    await expect(admin.api.v2010.accounts(emulator.accountSid).calls.list()).rejects.toMatchObject({
      status: 404,
      code: 20404,
      message: expect.stringContaining(`The requested resource ${path} was not found`),
    });
  });

  it("answers 404 for a malformed SID in the path, as for an unknown one", async () => {
    const { emulator, admin, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const path = `/2010-04-01/Accounts/${emulator.accountSid}/Keys/not-a-key.json`;
    const response = await raw("GET", path, { auth });
    expect(response).toMatchObject({
      status: 404,
      body: { code: 20404, message: `The requested resource ${path} was not found`, status: 404 },
    });
    await expect(admin.iam.v1.apiKey(`SK${"f".repeat(32)}`).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
  });

  it("answers 404 for paths outside every spec, without asking for credentials", async () => {
    const { raw } = harness();
    const response = await raw("GET", "/nothing/here", { record: false });
    expect(response).toMatchObject({
      status: 404,
      body: { code: 20404, message: "The requested resource /nothing/here was not found" },
    });
  });
});

describe("unsupported methods", () => {
  it("answers 405 (20004) with Allow for a method the spec does not have", async () => {
    const { emulator, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const notInSpec = await raw("DELETE", "/2010-04-01/Accounts.json", { auth, record: false });
    expect(notInSpec).toMatchObject({ status: 405, body: { code: 20004, message: "Method not allowed", status: 405 } });
    expect(notInSpec.headers.allow).toBe("GET, POST");
  });

  it("says when a method the spec has is not emulated (every served path now serves all its spec methods)", () => {
    // POST Messages.json used to be the live example; it is served now, so a router without it stands in.
    const router = new Router(
      TwilioSpecs.load(SPEC_DIR),
      ROUTES.filter((r) => !(r.path.endsWith("/Messages.json") && r.method === "POST")),
    );
    expect(() => router.match("POST", `/2010-04-01/Accounts/AC${"0".repeat(32)}/Messages.json`)).toThrow(
      expect.objectContaining({ status: 405, code: 20004, message: expect.stringMatching(/does not implement POST/) }),
    );
  });
});

describe("bad parameters", () => {
  it("checks list parameters against the spec: PageSize 1..1000 (20007 above), integers, enums", async () => {
    const { emulator, admin, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const keys = `/2010-04-01/Accounts/${emulator.accountSid}/Keys.json`;
    expect(await raw("GET", `${keys}?PageSize=1001`, { auth })).toMatchObject({ status: 400, body: { code: 20007 } });
    await expect(admin.api.v2010.accounts(emulator.accountSid).keys.page({ pageSize: 1001 })).rejects.toMatchObject({
      status: 400,
      code: 20007,
    });
    for (const query of ["PageSize=0", "PageSize=abc", "PageSize=2.5", "Page=-1", "PageToken=garbage"]) {
      const response = await raw("GET", `${keys}?${query}`, { auth });
      expect(response, query).toMatchObject({ status: 400, body: { code: 20001, status: 400 } });
    }
    expect(await raw("GET", "/2010-04-01/Accounts.json?Status=deleted", { auth })).toMatchObject({
      status: 400,
      body: { code: 20001, message: expect.stringContaining("Status") },
    });
    expect(await raw("GET", `${keys}?PageSize=1000`, { auth })).toMatchObject({ status: 200 });
  });

  it("ignores parameters the spec does not declare, as Twilio does", async () => {
    const { emulator, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const response = await raw("POST", `/2010-04-01/Accounts/${emulator.accountSid}/Keys.json`, {
      auth,
      form: { FriendlyName: "k", Flavor: "vanilla" },
    });
    expect(response).toMatchObject({ status: 201, body: { friendly_name: "k" } });
  });

  it("never answers 5xx to malformed input", async () => {
    const { emulator, raw } = harness();
    const auth = [emulator.accountSid, emulator.authToken] as const;
    const sid = emulator.accountSid;
    const attempts: Array<[string, string, Record<string, string>?]> = [
      ["GET", `/2010-04-01/Accounts/${sid}/Keys.json?PageSize=%FF`],
      ["GET", "/2010-04-01/Accounts/%E0%A4%A.json"],
      ["POST", "/v1/Keys", { AccountSid: sid, KeyType: "restricted", Policy: "null" }],
      ["POST", "/v1/Keys", { AccountSid: sid, KeyType: "restricted", Policy: '{"allow":"x"}' }],
      ["POST", "/v1/Keys", { AccountSid: sid, KeyType: "restricted", Policy: "[]" }],
      ["POST", "/v1/Keys", { AccountSid: sid, FriendlyName: "" }],
      ["POST", `/2010-04-01/Accounts/${sid}.json`, { Status: "" }],
      ["POST", "/2010-04-01/Accounts.json", { FriendlyName: "\u0000".repeat(65) }],
      ["GET", "/v1/Keys?AccountSid=&PageSize=1"],
      ["DELETE", "/v1/AuthTokens/Promote"],
    ];
    for (const [method, path, form] of attempts) {
      const response = await raw(method, path, { auth, record: false, ...(form ? { form } : {}) });
      expect(response.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${method} ${path}`).toBeLessThan(500);
      expect(response.body, `${method} ${path}`).toMatchObject({ code: expect.any(Number), status: response.status });
    }
  });

  it("refuses an oversized body with 413 instead of buffering it", async () => {
    const { emulator } = harness();
    const response = await fetch(`${emulator.baseUrl}/v1/Keys`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `FriendlyName=${"x".repeat(2 * 1024 * 1024)}`,
    });
    expect(response.status).toBe(413);
  });
});
