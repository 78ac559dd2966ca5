/** The emulator's own guards: spec binding, response shaping, state rules, policies and path globs. */
import { describe, expect, it } from "vitest";
import type { RouteDefinition } from "../../src/emulator/context.js";
import { globToRegExp } from "../../src/emulator/faults.js";
import { defaultSubaccountName, iso8601, rfc2822 } from "../../src/emulator/format.js";
import { parsePolicy } from "../../src/emulator/policy.js";
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
