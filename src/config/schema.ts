/**
 * The config file's schema. Types are derived from it (never written twice), and config/rotator.schema.json
 * is generated from it for editors. Every object is strict: an unknown key is an error naming its path,
 * because a misspelt option silently ignored is how a rotation does something nobody asked for.
 */
import { z } from "zod";
import { storeEntrySchema } from "../../providers/registry.js";
import { envReferenceFor, httpUrl } from "../../providers/schema-parts.js";
import { consumerEntrySchema } from "../consumers/schema.js";
import { ACCOUNT_SID, KEY_SID, sidProblems } from "../twilio/diagnose.js";

/**
 * Twilio writes SIDs as AC/SK and 32 lower-case hex digits. Upper-case hex is accepted and normalised, so a
 * SID copied in upper case compares equal to the one Twilio returns. A malformed one is diagnosed (quotes,
 * whitespace, length, "ac", SK for AC, a pasted token), never quoted.
 */
function sidSchema(kind: "account" | "key") {
  return z
    .string()
    .regex(kind === "account" ? ACCOUNT_SID : KEY_SID, {
      error: (issue) => sidProblems(String(issue.input), kind).join("; and it "),
    })
    .overwrite((sid) => `${sid.slice(0, 2)}${sid.slice(2).toLowerCase()}`);
}

const adminCredential = z
  .union(
    [
      z
        .strictObject({ authToken: envReferenceFor({ example: "TWILIO_AUTH_TOKEN", what: "the token" }) })
        .describe("The account's Auth Token."),
      z
        .strictObject({
          apiKeySid: sidSchema("key").describe(
            "The Main key's SID: SK and 32 hex digits (upper-case hex is read as lower case).",
          ),
          apiKeySecret: envReferenceFor({ example: "TWILIO_API_KEY_SECRET", what: "the key secret" }),
        })
        .describe("A Main API key (Standard keys may not manage keys)."),
    ],
    {
      error:
        "must be either { authToken: { env: NAME } } (the Auth Token) or " +
        "{ apiKeySid: SK…, apiKeySecret: { env: NAME } } (a Main API key)",
    },
  )
  .describe("The credential rotator uses to create and delete keys: the Auth Token or a Main API key.");

const twilioSection = z.strictObject({
  accountSid: sidSchema("account").describe(
    "The account (or subaccount) whose credential is rotated: AC and 32 hex digits. Upper-case hex is accepted " +
      "and read as lower case, as Twilio writes SIDs.",
  ),
  admin: adminCredential,
  baseUrl: httpUrl({ example: "http://127.0.0.1:4010", shape: "origin" })
    .optional()
    .describe(
      "Send Twilio API calls here instead of Twilio (an emulator), e.g. http://127.0.0.1:4010. Default: Twilio.",
    ),
});

const credentialSection = z
  .strictObject({
    type: z.literal("api-key", { error: 'only "api-key" is supported in this version' }).describe("What is rotated."),
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
    maxAgeDays: z.number().int().min(1).max(3650).default(90).describe("Rotate when the key is older (--if-due)."),
    verifyPath: z
      .string()
      .regex(
        /^\/[^\s?#]*(\?[^\s#]*)?$/,
        "must be an absolute path such as /2010-04-01/Accounts/{AccountSid}/Messages.json",
      )
      .default("/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1")
      .describe("A GET the new key may call to prove it authenticates. {AccountSid} is filled in."),
  })
  .refine((c) => c.keyType !== "restricted" || c.policy !== undefined, {
    message: "a restricted key needs a policy (credential.policy)",
    path: ["policy"],
  });

const verifySection = z.strictObject({
  newKeyTimeoutSeconds: z
    .number()
    .min(0)
    .max(600)
    .default(60)
    .describe("How long a new key may take to start authenticating."),
  revokeConfirmSeconds: z
    .number()
    .min(0)
    .max(600)
    .default(30)
    .describe("How long to wait for Twilio to refuse the revoked key."),
  consumersTimeoutSeconds: z
    .number()
    .min(0)
    .max(86_400)
    .default(300)
    .describe("How long consumers may take to report the new key before the run stops as awaiting consumers."),
  consumersPollSeconds: z.number().min(0.1).max(300).default(2).describe("How often consumers are asked."),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1, { error: "must be 1 (the only config version so far)" }),
    twilio: twilioSection,
    credential: credentialSection,
    stores: z
      .array(storeEntrySchema)
      .min(1, "list at least one store")
      .describe("Written in this order, rolled back in reverse."),
    consumers: z
      .array(consumerEntrySchema)
      .default([])
      .describe("App instances that must be seen using the new key before the old one is revoked."),
    verify: verifySection.prefault({}),
  })
  .superRefine((config, ctx) => {
    for (const list of ["stores", "consumers"] as const) {
      const seen = new Map<string, number>();
      config[list].forEach((entry, index) => {
        const first = seen.get(entry.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [list, index, "name"],
            message: `duplicate name "${entry.name}" (also ${list}[${first}]); names must be unique`,
          });
        } else seen.set(entry.name, index);
      });
    }
  });

export type RotatorConfig = z.infer<typeof configSchema>;
export type StoreEntry = RotatorConfig["stores"][number];
