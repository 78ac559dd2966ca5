import { describe, expect, it } from "vitest";
import type { CredentialLayout } from "./contract.js";
import { StoredFields } from "./fields.js";

const layout: CredentialLayout = {
  type: "auth-token",
  fields: [
    { key: "accountSid", secret: false, json: "accountSid", dotenv: "TWILIO_ACCOUNT_SID" },
    { key: "authToken", secret: true, json: "authToken", dotenv: "TWILIO_AUTH_TOKEN" },
    { key: "previousAuthToken", secret: true, optional: true, json: "previousAuthToken", dotenv: "TWILIO_PREVIOUS" },
  ],
  id: (credential) => String(credential.authToken),
};
const account = "AC00000000000000000000000000000001";

describe("StoredFields with an optional field", () => {
  const fields = new StoredFields(layout, "dotenv", { previousAuthToken: "OLD_TOKEN" });

  it("reads a store without the optional field as the credential without it", () => {
    expect(fields.fromStore({ TWILIO_ACCOUNT_SID: account, TWILIO_AUTH_TOKEN: "t2" })).toEqual({
      kind: "auth-token",
      accountSid: account,
      authToken: "t2",
    });
    expect(fields.fromStore({ TWILIO_ACCOUNT_SID: account, TWILIO_AUTH_TOKEN: "t2", OLD_TOKEN: "" })).toEqual({
      kind: "auth-token",
      accountSid: account,
      authToken: "t2",
    });
  });

  it("reads the optional field under its (renamed) name when the store holds it", () => {
    expect(fields.fromStore({ TWILIO_ACCOUNT_SID: account, TWILIO_AUTH_TOKEN: "t2", OLD_TOKEN: "t1" })).toEqual({
      kind: "auth-token",
      accountSid: account,
      authToken: "t2",
      previousAuthToken: "t1",
    });
  });

  it("still refuses a store missing a required field", () => {
    expect(fields.fromStore({ TWILIO_ACCOUNT_SID: account, OLD_TOKEN: "t1" })).toBeUndefined();
  });

  it("names the optional fields a credential lacks, for the write to remove", () => {
    expect(fields.absentNames({ kind: "auth-token", accountSid: account, authToken: "t2" })).toEqual(["OLD_TOKEN"]);
    expect(
      fields.absentNames({ kind: "auth-token", accountSid: account, authToken: "t2", previousAuthToken: "t1" }),
    ).toEqual([]);
    expect(fields.toStore({ kind: "auth-token", accountSid: account, authToken: "t2" })).toEqual({
      TWILIO_ACCOUNT_SID: account,
      TWILIO_AUTH_TOKEN: "t2",
    });
  });
});
