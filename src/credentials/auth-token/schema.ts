import * as z from "zod";
import { maxAgeDays, verifyPath } from "../schema-parts.js";

export const DEFAULT_TOKEN_VERIFY_PATH = "/2010-04-01/Accounts/{AccountSid}.json";

export const authTokenConfigSchema = z
  .strictObject({
    type: z
      .literal("auth-token")
      .describe("Rotate the account's Auth Token: a secondary token is created, written everywhere, then promoted."),
    maxAgeDays: maxAgeDays("token"),
    verifyPath: verifyPath(DEFAULT_TOKEN_VERIFY_PATH, "new token"),
    promoteSettleSeconds: z
      .number()
      .min(0)
      .max(600)
      .default(0)
      .describe(
        "Seconds to wait after the promote before checking that Twilio refuses the old token. Twilio Functions " +
          "and Services that hold the token inline need about a minute to take the new one.",
      ),
    webhookSigningLagSeconds: z
      .number()
      .min(0)
      .max(600)
      .default(60)
      .describe(
        "Seconds after the promote that stores keep the old token (as previousAuthToken / TWILIO_PREVIOUS_AUTH_TOKEN) " +
          "beside the new one before a second write retires it: Twilio may sign webhooks with the old token for a " +
          "while after a promote, and apps validating with both accept them. --emergency retires it right after the promote.",
      ),
  })
  .describe(
    "The account's Auth Token (accountSid is the account whose token is rotated: a token is promoted by its own account).",
  );

export type AuthTokenConfig = z.infer<typeof authTokenConfigSchema>;
