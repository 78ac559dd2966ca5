import * as z from "zod";
import { maxAgeDays, verifyPath } from "../schema-parts.js";

export const DEFAULT_KEY_VERIFY_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1";

export const apiKeyConfigSchema = z
  .strictObject({
    type: z.literal("api-key").describe("Rotate an API key (its SID and secret)."),
    keyType: z.enum(["standard", "restricted"]).default("standard").describe("Kind of API key to create."),
    policy: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('IAM policy for restricted keys, e.g. { allow: ["/twilio/messaging/messages/read"] }.'),
    friendlyNamePrefix: z
      .string()
      .regex(/^[A-Za-z0-9 _.-]{1,30}$/, "use at most 30 letters, digits, spaces, '.', '_' or '-'")
      .default("rotator")
      .describe("New keys are named PREFIX-RUNID, which is how a crashed run's key is found again."),
    maxAgeDays: maxAgeDays("key"),
    verifyPath: verifyPath(DEFAULT_KEY_VERIFY_PATH, "new key"),
  })
  .refine((c) => c.keyType !== "restricted" || c.policy !== undefined, {
    message: "a restricted key needs a policy (credential.policy)",
    path: ["policy"],
  })
  .describe("An API key: a new key is created, written everywhere, and the old one deleted.");

export type ApiKeyConfig = z.infer<typeof apiKeyConfigSchema>;
