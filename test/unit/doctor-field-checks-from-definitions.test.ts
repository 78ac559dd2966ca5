/**
 * `rotator doctor`'s offline, field-by-field diagnosis asks the credential type's definition: which variables
 * hold a credential (its fields' dotenv names), what each value's shape is (an account SID, a key SID, a
 * secret), what to call the credential. A type registered as a plug-in is diagnosed like the built-in ones, and
 * a field rotator writes itself (the Auth Token's previousAuthToken) is never asked for.
 */
import { describe, expect, it } from "vitest";
import { offlineChecks } from "../../src/doctor/offline.js";
import { candidatesFromVariables } from "../../src/doctor/sources.js";
// A plug-in's type: an app's client id (shaped as a key SID) and secret (as a key secret), under its own names.
import "./client-secret-type.js";

const ACCOUNT = `AC${"a".repeat(32)}`;
const KEY = `SK${"b".repeat(32)}`;
const SECRET = "Abcdefghijklmnopqrstuvwxyz012345";
const TOKEN = "0123456789abcdef0123456789abcdef";

describe("doctor's field checks", () => {
  it("find a plug-in type's credential by its variables, named by its labels", () => {
    const candidates = candidatesFromVariables(
      { TWILIO_ACCOUNT_SID: ACCOUNT, APP_CLIENT_ID: KEY, APP_CLIENT_SECRET: SECRET },
      "environment",
    );
    expect(candidates.map(({ subject, kind, values }) => ({ subject, kind, values }))).toEqual([
      {
        subject: "environment (client secret)",
        kind: "client-secret",
        values: { accountSid: ACCOUNT, clientId: KEY, clientSecret: SECRET },
      },
    ]);
    const verdict = offlineChecks(candidates[0]!);
    expect(verdict.wellFormed).toBe(true);
    expect(verdict.credential).toEqual({
      kind: "client-secret",
      accountSid: ACCOUNT,
      clientId: KEY,
      clientSecret: SECRET,
    });
    expect(verdict.findings.map((finding) => [finding.check, finding.ok])).toEqual([
      ["variables", true],
      ["account-sid-format", true],
      ["key-sid-format", true],
      ["key-secret-format", true],
    ]);
  });

  it("check each field by the shape its definition gives, and name what is missing by its variable", () => {
    const [candidate] = candidatesFromVariables(
      { TWILIO_ACCOUNT_SID: ACCOUNT, APP_CLIENT_ID: KEY, APP_CLIENT_SECRET: TOKEN },
      "environment",
    );
    const malformed = offlineChecks(candidate!).findings.find((finding) => !finding.ok);
    expect(malformed).toMatchObject({
      check: "key-secret-format",
      cause: expect.stringMatching(/^APP_CLIENT_SECRET looks like an Auth Token/),
    });
    const [missing] = candidatesFromVariables({ TWILIO_ACCOUNT_SID: ACCOUNT, APP_CLIENT_ID: KEY }, "environment");
    expect(offlineChecks(missing!).findings[0]).toMatchObject({
      check: "variables",
      ok: false,
      cause: "APP_CLIENT_SECRET is not set",
      fix: "set APP_CLIENT_SECRET (a client secret needs accountSid, clientId, clientSecret)",
    });
  });

  it("never ask for the Auth Token's previous token, which rotator writes during a rotation", () => {
    const [candidate, ...others] = candidatesFromVariables(
      { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: TOKEN },
      "environment",
    );
    expect(others).toEqual([]);
    expect(candidate).toMatchObject({ subject: "environment (Auth Token)", kind: "auth-token" });
    expect(Object.keys(candidate!.names)).toEqual(["accountSid", "authToken"]);
    const verdict = offlineChecks(candidate!);
    expect(verdict.findings.map((finding) => [finding.check, finding.ok])).toEqual([
      ["variables", true],
      ["account-sid-format", true],
      ["auth-token-format", true],
    ]);
    expect(verdict.findings[0]?.detail).toBe("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN set");
    // With nothing set, the account's token is what is missing (not its previous one).
    const [nothing] = candidatesFromVariables({}, "environment");
    expect(offlineChecks(nothing!).findings[0]?.cause).toBe(
      "TWILIO_ACCOUNT_SID is not set, TWILIO_AUTH_TOKEN is not set",
    );
  });
});
