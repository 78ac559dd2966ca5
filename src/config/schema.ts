/**
 * The config file's schema. Types are derived from it (never written twice), and config/rotator.schema.json
 * is generated from it for editors. Every object is strict: an unknown key is an error naming its path,
 * because a misspelt option silently ignored is how a rotation does something nobody asked for.
 */
import * as z from "zod";
import { storeEntrySchema } from "../../providers/registry.js";
import { storeName } from "../../providers/schema-parts.js";
import { consumerEntrySchema } from "../consumer-probes/schema.js";
import { credentialSchema, credentialTypeOf } from "../credentials/registry.js";
import { DEFAULT_TWILIO_TIMEOUT_SECONDS, storeDeadlineProblems } from "../engine/deadlines.js";
import { stateSchema } from "../engine/state/schema.js";
import { notifySchema } from "../notify/schema.js";
import { ACCOUNT_SID, KEY_SID, sidProblems } from "../twilio/diagnose.js";
import { envReferenceFor, httpUrl } from "./schema-parts.js";

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

/**
 * Where the admin Auth Token comes from: an environment variable, or one of the config's stores (which after a
 * rotation holds the new token, so the next run has it without anyone editing an environment).
 */
const adminToken = z.union(
  [
    envReferenceFor({ example: "TWILIO_AUTH_TOKEN", what: "the token" }),
    z
      .strictObject({ fromStore: storeName.describe("The name of one of this config's stores.") })
      .describe("Read the Auth Token from this store of the config (credential.type auth-token only)."),
  ],
  {
    error: (issue) =>
      typeof issue.input === "string"
        ? "must be a reference such as { env: TWILIO_AUTH_TOKEN }, not the token itself (secret values never go in the config); move the value to an environment variable"
        : "must be { env: NAME } (an environment variable) or { fromStore: STORE } (a store of this config)",
  },
);

const adminCredential = z
  .union(
    [
      z.strictObject({ authToken: adminToken }).describe("The account's Auth Token."),
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
  .describe(
    "The credential rotator uses to create and delete keys, or to rotate the token: the Auth Token (from the " +
      "environment, or { fromStore: STORE } for an auth-token rotation) or a Main API key.",
  );

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
  timeoutSeconds: z
    .number()
    .min(0.5)
    .max(300)
    .default(DEFAULT_TWILIO_TIMEOUT_SECONDS)
    .describe(
      "How long one request to Twilio may go unanswered before rotator gives it up (a passing failure, " +
        "retried a few times within as long again). Default 10.",
    ),
});

/**
 * `accounts:`: a fleet. One run rotates the API key of each of these accounts as its own unit (its own
 * journal, locks, all-or-nothing and consumer wait), `twilio.accountSid` being the parent whose credential
 * manages the subaccounts' keys; stores and consumers are templates (fleet/template.ts).
 */
const accountsSection = z
  .strictObject({
    list: z
      .array(sidSchema("account"))
      .min(1, "list at least one account SID")
      .optional()
      .describe("These accounts (subaccounts of twilio.accountSid, or twilio.accountSid itself)."),
    discover: z
      .strictObject({
        friendlyName: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .describe(
            "Only subaccounts whose FriendlyName is this: exact, or a pattern where * is any characters and ? one.",
          ),
        status: z
          .enum(["active", "suspended", "closed"])
          .default("active")
          .describe("Only subaccounts with this status (default active)."),
      })
      .optional()
      .describe("Every subaccount of twilio.accountSid that Twilio lists with these filters, at each run."),
    concurrency: z
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe("At most this many accounts rotate at once (fewer for a while after a 429)."),
    requestsPerSecond: z
      .number()
      .positive()
      .max(10_000)
      .optional()
      .describe("The Twilio request rate the whole fleet stays under; a 429 slows it further, honouring Retry-After."),
  })
  .superRefine((accounts, ctx) => {
    if ((accounts.list === undefined) === (accounts.discover === undefined)) {
      ctx.addIssue({
        code: "custom",
        message: "give either list: [AC…, …] or discover: { friendlyName, status }, not both nor neither",
      });
    }
    const seen = new Set<string>();
    accounts.list?.forEach((sid, index) => {
      if (seen.has(sid)) {
        ctx.addIssue({ code: "custom", path: ["list", index], message: "this account is listed twice" });
      }
      seen.add(sid);
    });
  })
  .describe(
    "A fleet: rotate the API key of each of these accounts in one run, each as its own unit, with the parent's " +
      "(twilio.accountSid's) Auth Token or Main key. Stores and consumers may use {accountSid} and {friendlyName}.",
  );

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
  emergencyConsumersTimeoutSeconds: z
    .number()
    .min(0)
    .max(86_400)
    .default(60)
    .describe("How long consumers may take in an emergency rotation (`rotate --emergency`)."),
});

/**
 * The config's schema, built on first use rather than when this module loads: its `credential:` union is made
 * of the types registered then, so a plug-in that imports rotator and registers its type afterwards
 * (`registerCredentialType`) is still in it.
 */
export function configSchema() {
  configSchemaBuilt ??= buildConfigSchema();
  return configSchemaBuilt;
}

let configSchemaBuilt: ReturnType<typeof buildConfigSchema> | undefined;

const buildConfigSchema = () =>
  z
    .strictObject({
      $schema: z.string().optional(),
      version: z.literal(1, { error: "must be 1 (the only config version so far)" }),
      twilio: twilioSection,
      credential: credentialSchema().describe("What is rotated: an API key or the account's Auth Token."),
      stores: z
        .array(storeEntrySchema)
        .min(1, "list at least one store")
        .describe("Written in this order, rolled back in reverse."),
      consumers: z
        .array(consumerEntrySchema)
        .default([])
        .describe("App instances that must be seen using the new key before the old one is revoked."),
      verify: verifySection.prefault({}),
      notify: notifySchema,
      state: stateSchema,
      accounts: accountsSection.optional(),
    })
    .superRefine((config, ctx) => {
      const fleetProblem =
        config.accounts === undefined
          ? undefined
          : credentialTypeOf(config.credential.type).fleetProblem(config.credential);
      if (fleetProblem !== undefined) {
        ctx.addIssue({ code: "custom", path: ["credential", ...fleetProblem.path], message: fleetProblem.message });
      }
      const admin = config.twilio.admin;
      if ("authToken" in admin && "fromStore" in admin.authToken) {
        const name = admin.authToken.fromStore;
        if (!credentialTypeOf(config.credential.type).accountToken) {
          ctx.addIssue({
            code: "custom",
            path: ["twilio", "admin", "authToken", "fromStore"],
            message: `the admin token can come from a store only when the stores hold it (credential.type auth-token); use { env: NAME } here`,
          });
        } else if (!config.stores.some((store) => store.name === name)) {
          ctx.addIssue({
            code: "custom",
            path: ["twilio", "admin", "authToken", "fromStore"],
            message: `no store is named "${name}"; name one of ${config.stores.map((s) => `"${s.name}"`).join(", ")}`,
          });
        }
      }
      for (const { path, message } of storeDeadlineProblems(config)) ctx.addIssue({ code: "custom", path, message });
      config.stores.forEach((store, index) => {
        if (!("syncedFrom" in store) || store.syncedFrom === undefined || store.syncedFrom === store.name) return;
        const source = config.stores.find((other) => other.name === store.syncedFrom);
        const message =
          source === undefined
            ? `no store is named "${store.syncedFrom}"; name the store this one is filled from (one of ${config.stores.map((s) => `"${s.name}"`).join(", ")})`
            : "syncedFrom" in source && source.syncedFrom !== undefined
              ? `store "${source.name}" is itself synced from another; name the store rotator writes`
              : undefined;
        if (message !== undefined) ctx.addIssue({ code: "custom", path: ["stores", index, "syncedFrom"], message });
      });
      if (config.stores.every((store) => "syncedFrom" in store && store.syncedFrom !== undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["stores"],
          message: "at least one store must be one rotator writes (not syncedFrom)",
        });
      }
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

export type RotatorConfig = z.infer<ReturnType<typeof buildConfigSchema>>;
export type StoreEntry = RotatorConfig["stores"][number];
