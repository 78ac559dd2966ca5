/** The emulator's own guards: spec binding, response shaping, state rules, policies and path globs. */
import { describe, expect, it } from "vitest";
import { parseBehaviour } from "../../src/emulator/behaviour.js";
import type { RouteDefinition } from "../../src/emulator/context.js";
import { globToRegExp } from "../../src/emulator/faults.js";
import { defaultSubaccountName, iso8601, rfc2822 } from "../../src/emulator/format.js";
import { parsePolicy } from "../../src/emulator/policy.js";
import { RateLimiter } from "../../src/emulator/rate-limit.js";
import { parseTwilioHost, requestedTwilioHost } from "../../src/emulator/region.js";
import { Router } from "../../src/emulator/router.js";
import { TwilioSpecs } from "../../src/emulator/spec.js";
import { EmulatorState, SUBACCOUNT_LIMIT } from "../../src/emulator/state.js";
import { SPEC_DIR } from "./helpers/contract.js";

const specs = TwilioSpecs.load(SPEC_DIR);
const MAIN = { accountSid: `AC${"1".repeat(32)}`, authToken: "2".repeat(32) };

describe("spec binding", () => {
  it("takes success statuses and parameter constraints from the spec", () => {
    const create = specs.operation("iam", "/v1/Keys", "POST");
    expect(create.successStatus).toBe(201);
    expect(create.params.find((p) => p.name === "AccountSid")).toMatchObject({ in: "body", required: true });
    expect(create.params.find((p) => p.name === "KeyType")?.schema.enum).toEqual(["restricted"]);
    expect(specs.operation("accounts", "/v1/AuthTokens/Promote", "POST").successStatus).toBe(200);
    expect(specs.operation("api", "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", "DELETE")).toMatchObject({
      successStatus: 204,
      responseSchema: undefined,
    });
    const list = specs.operation("api", "/2010-04-01/Accounts/{AccountSid}/Keys.json", "GET");
    expect(list.params.find((p) => p.name === "PageSize")?.schema).toMatchObject({ minimum: 1, maximum: 1000 });
  });

  it("refuses to start a route the spec does not have", () => {
    const bogus: RouteDefinition = {
      spec: "api",
      path: "/2010-04-01/Accounts/{AccountSid}/Keys.json",
      method: "DELETE",
      access: { kind: "account-admin" },
      target: () => MAIN.accountSid,
      handle: () => undefined,
    };
    expect(() => new Router(specs, [bogus])).toThrow(/the spec has no DELETE/);
  });

  it("shapes bodies to the spec's fields: unknown fields and missing required ones are emulator bugs", () => {
    const fetchKey = specs.operation("iam", "/v1/Keys/{Sid}", "GET");
    const shaped = specs.shape(fetchKey, { sid: `SK${"3".repeat(32)}`, friendly_name: "k", policy: null });
    expect(shaped).toEqual({
      sid: `SK${"3".repeat(32)}`,
      friendly_name: "k",
      date_created: null,
      date_updated: null,
      policy: null,
    });
    expect(Object.keys(shaped as object)).toEqual(["sid", "friendly_name", "date_created", "date_updated", "policy"]);
    expect(() => specs.shape(fetchKey, { sid: "x", secret: "leak" })).toThrow(/secret is not in the spec/);
    const fetchAccount = specs.operation("api", "/2010-04-01/Accounts/{Sid}.json", "GET");
    expect(() => specs.shape(fetchAccount, { sid: MAIN.accountSid })).toThrow(/status is required by the spec/);
  });
});

describe("state rules", () => {
  it(`allows ${SUBACCOUNT_LIMIT} subaccounts, then answers 21480`, () => {
    const state = new EmulatorState(MAIN);
    for (let i = 0; i < SUBACCOUNT_LIMIT; i++) state.createSubaccount(MAIN.accountSid, `s${i}`);
    expect(() => state.createSubaccount(MAIN.accountSid, "one too many")).toThrow(
      expect.objectContaining({ status: 400, code: 21480 }),
    );
  });

  it("acts on itself and its subaccounts only", () => {
    const state = new EmulatorState(MAIN);
    const a = state.createSubaccount(MAIN.accountSid, "a");
    const b = state.createSubaccount(MAIN.accountSid, "b");
    expect(state.canActOn(MAIN.accountSid, a.sid)).toBe(true);
    expect(state.canActOn(a.sid, a.sid)).toBe(true);
    expect(state.canActOn(a.sid, MAIN.accountSid)).toBe(false);
    expect(state.canActOn(a.sid, b.sid)).toBe(false);
    expect(state.canActOn(MAIN.accountSid, `AC${"9".repeat(32)}`)).toBe(false);
  });

  it("stamps times to the second, from the injected clock", () => {
    let now = Date.UTC(2016, 5, 13, 22, 50, 8, 750);
    const state = new EmulatorState(MAIN, () => now);
    const { key } = state.createKey(MAIN.accountSid, { type: "standard", friendlyName: "k", activationDelayMs: 500 });
    expect(rfc2822(key.dateCreated)).toBe("Mon, 13 Jun 2016 22:50:08 +0000");
    expect(iso8601(key.dateCreated)).toBe("2016-06-13T22:50:08Z");
    expect(key.activeAt).toBe(now + 500);
    now += 60_000;
    expect(rfc2822(state.updateKey(key.sid, { friendlyName: "k2" }).dateUpdated)).toBe(
      "Mon, 13 Jun 2016 22:51:08 +0000",
    );
    expect(defaultSubaccountName(new Date(Date.UTC(2015, 6, 30, 20, 5)))).toBe(
      "SubAccount Created at 2015-07-30 08:05 pm",
    );
    expect(defaultSubaccountName(new Date(Date.UTC(2015, 6, 30, 0, 5)))).toBe(
      "SubAccount Created at 2015-07-30 12:05 am",
    );
  });
});

describe("policies", () => {
  it("parses Twilio's policy JSON and de-duplicates permissions", () => {
    expect(parsePolicy('{"allow":["/twilio/messaging/messages/read","/twilio/messaging/messages/read"]}')).toEqual({
      allow: ["/twilio/messaging/messages/read"],
    });
    for (const bad of ["", "{}", '{"allow":[]}', '{"allow":["/twilio"]}', '{"allow":["/twilio/x"]}', '{"allow":[1]}']) {
      expect(() => parsePolicy(bad), bad).toThrow(expect.objectContaining({ status: 400, code: 20001 }));
    }
  });
});

describe("fault path globs", () => {
  it("match * within a segment and ** across segments, everything else literally", () => {
    const one = globToRegExp("/2010-04-01/Accounts/*/Keys.json");
    expect(one.test(`/2010-04-01/Accounts/${MAIN.accountSid}/Keys.json`)).toBe(true);
    expect(one.test("/2010-04-01/Accounts/a/b/Keys.json")).toBe(false);
    expect(one.test("/2010-04-01/Accounts/a/KeysXjson")).toBe(false);
    expect(globToRegExp("/v1/**").test("/v1/Keys/SK1")).toBe(true);
    expect(globToRegExp("/v1/Keys").test("/v1/Keys/SK1")).toBe(false);
  });
});

describe("Twilio hosts and Regions", () => {
  it("reads the Region the way the official client writes it, and nothing from other hosts", () => {
    expect(parseTwilioHost("api.twilio.com")).toMatchObject({ product: "api", region: "us1", explicit: false });
    expect(parseTwilioHost("api.dublin.ie1.twilio.com")).toMatchObject({
      edge: "dublin",
      region: "ie1",
      explicit: true,
    });
    expect(parseTwilioHost("iam.au1.twilio.com")).toMatchObject({ product: "iam", edge: undefined, region: "au1" });
    expect(parseTwilioHost("API.Sydney.AU1.twilio.com:443")?.host).toBe("api.sydney.au1.twilio.com");
    expect(parseTwilioHost("127.0.0.1:4010")).toBeUndefined();
    expect(parseTwilioHost("api.twilio.com.evil.example")).toBeUndefined();
    expect(parseTwilioHost("api.dublin.nowhere.twilio.com")).toBeUndefined();
    expect(requestedTwilioHost({ "x-forwarded-host": "api.dublin.ie1.twilio.com", host: "127.0.0.1:1" })?.region).toBe(
      "ie1",
    );
    expect(requestedTwilioHost({ host: "127.0.0.1:1" })).toBeUndefined();
  });

  it("gives every account a token in each Region held, and reports each one issued", () => {
    const issued: string[] = [];
    const state = new EmulatorState({ ...MAIN, regions: ["us1", "ie1"], onSecretIssued: (s) => issued.push(s) });
    expect(issued).toHaveLength(1);
    expect(state.tokens(MAIN.accountSid, "us1")?.primary.value).toBe(MAIN.authToken);
    expect(state.tokens(MAIN.accountSid, "ie1")?.primary.value).toBe(issued[0]);
    expect(state.tokens(MAIN.accountSid, "au1")).toBeUndefined();
    const sub = state.createSubaccount(MAIN.accountSid, "s");
    expect(issued).toHaveLength(3);
    expect(() => state.createKey(sub.sid, { type: "standard", friendlyName: "k", region: "au1" })).toThrow(
      /no region au1/,
    );
    expect(() => new EmulatorState({ ...MAIN, regions: ["ie1"] })).toThrow(/must include us1/);
  });
});

describe("rate limiter", () => {
  it("admits a burst, then refills at requestsPerSecond and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter({ requestsPerSecond: 2, burst: 2 }, () => now);
    limiter.admit("AC1").release();
    limiter.admit("AC1").release();
    expect(() => limiter.admit("AC1")).toThrow(
      expect.objectContaining({ status: 429, code: 20429, headers: { "Retry-After": "1" } }),
    );
    // Another account has its own bucket.
    limiter.admit("AC2").release();
    now += 500;
    limiter.admit("AC1").release();
    expect(() => limiter.admit("AC1")).toThrow(expect.objectContaining({ status: 429 }));
  });

  it("limits requests in flight, and a global scope shares one bucket", () => {
    const limiter = new RateLimiter({ requestsPerSecond: 100, scope: "global", maxConcurrentRequests: 2 }, () => 0);
    const a = limiter.admit("AC1");
    const b = limiter.admit("AC2");
    expect(b.concurrent).toBe(2);
    expect(() => limiter.admit("AC3")).toThrow(expect.objectContaining({ status: 429 }));
    a.release();
    a.release();
    expect(limiter.admit("AC3").concurrent).toBe(2);
  });

  it("refuses a malformed configuration with a message naming it", () => {
    expect(() => new RateLimiter({ requestsPerSecond: 0 })).toThrow(/invalid rateLimit/);
    // @ts-expect-error: an unknown key is an error, not ignored.
    expect(() => new RateLimiter({ requestsPerSecond: 1, perSecond: 2 })).toThrow(/invalid rateLimit/);
  });
});

describe("behaviour", () => {
  it("defaults to the documented answers and refuses unknown choices", () => {
    expect(parseBehaviour(undefined)).toEqual({
      secondaryTokenWhenExists: "replace",
      inactiveAccount: "20003",
      parentMainKeysOnSubaccounts: true,
      parentCredentialsBeyondV2010: false,
    });
    // @ts-expect-error: not one of the choices.
    expect(() => parseBehaviour({ inactiveAccount: "20004" })).toThrow(/invalid behaviour/);
  });
});
