/**
 * A store entry's `fields:` knows the fields of a credential type registered after the store layer loaded (a
 * plug-in imports rotator, then registers): the store entries' schemas read the types through their port
 * (providers/credential-layouts.ts) when a config is first parsed, not when their modules load.
 */

import { describe, expect, it } from "vitest";
import * as z from "zod";
import { dotenvFileConfigSchema } from "../../providers/dotenv-file/schema.js";
import { storeEntrySchema } from "../../providers/registry.js";
import { registerCredentialType } from "../../src/index.js";
import { clientSecret } from "../fixtures/credential-types/client-secret/index.js";

describe("store entries' fields: of a plug-in credential type", () => {
  // Registered after every provider's schema module loaded (the imports above), as a plug-in would.
  registerCredentialType(clientSecret);

  it("a store entry may rename the plug-in type's fields, and its names must stay apart from every type's", () => {
    const entry = { type: "dotenv-file", name: "app", path: "app.env" };
    expect(storeEntrySchema.safeParse({ ...entry, fields: { clientSecret: "MY_SECRET" } }).success).toBe(true);
    expect(storeEntrySchema.safeParse({ ...entry, fields: { clientSecrets: "MY_SECRET" } }).success).toBe(false);
    const clash = storeEntrySchema.safeParse({ ...entry, fields: { clientId: "TWILIO_API_KEY" } });
    expect(clash.success).toBe(false);
    expect(clash.error?.issues.map((issue) => issue.message)).toEqual([
      expect.stringContaining("each field needs its own variable name"),
    ]);
    const aws = { type: "aws-secrets-manager", name: "aws", secretId: "app/twilio", region: "us-east-1" };
    expect(storeEntrySchema.safeParse({ ...aws, fields: { clientId: "appClient" } }).success).toBe(true);
  });

  it("the dotenv entry's description of `fields:` names the plug-in type's default variables", () => {
    const schema = z.toJSONSchema(dotenvFileConfigSchema, { io: "input", unrepresentable: "any" });
    const description = (schema.properties?.fields as { description?: string } | undefined)?.description;
    expect(description).toMatch(/, APP_CLIENT_ID and APP_CLIENT_SECRET\.$/);
    expect(description).toContain("TWILIO_API_KEY");
  });
});
