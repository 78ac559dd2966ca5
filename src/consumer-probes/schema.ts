/**
 * Config for consumers: the app instances that must be seen using the new key before the old one is
 * revoked. The http probe is a contract apps in any language implement (see README, "Consumer contract").
 */
import * as z from "zod";
import { storeName } from "../../providers/schema-parts.js";
import { envReference, httpUrl } from "../config/schema-parts.js";
import { kubernetesConsumerSchema } from "./kubernetes/schema.js";

// A literal header value is for what is not secret (Accept, a tenant id); one shaped like a token is refused.
const headerValue = z
  .union(
    [
      z.string().refine((value) => !/[A-Za-z0-9]{32,}/.test(value), {
        message:
          "looks like a secret (32+ letters and digits); give it as { env: NAME } instead (secret values never " +
          "go in the config)",
      }),
      envReference,
    ],
    { error: "must be text, or a reference such as { env: NAME } for a secret value" },
  )
  .describe("A header value, or { env: NAME } for a secret one.");

const httpTarget = z.strictObject({
  url: httpUrl({
    example: "http://10.0.0.5:8080/.well-known/twilio-credential",
    shape: "any",
    credentialsInstead: "send a credential as a header instead, given as { env: NAME }",
  }).describe("The URL to call."),
  headers: z.record(z.string(), headerValue).optional().describe("Extra request headers, e.g. Authorization."),
});

export const httpConsumerSchema = z.strictObject({
  name: storeName.describe("A short name for this consumer, used in messages, the journal and --json output."),
  type: z.literal("http"),
  ...httpTarget.shape,
  caFile: z.string().optional().describe("PEM file of the CA that signed the consumer's TLS certificate (https)."),
  timeoutSeconds: z.number().positive().max(120).default(5).describe("Per request."),
  reload: httpTarget
    .optional()
    .describe("POSTed once before polling; the app answers 2xx once it has re-read its store."),
});

export const commandConsumerSchema = z.strictObject({
  name: storeName.describe("A short name for this consumer, used in messages, the journal and --json output."),
  type: z.literal("command"),
  command: z
    .array(z.string().min(1))
    .min(1)
    .describe(
      "argv of a check run with ROTATOR_EXPECTED_KEY_SID set; exit 0 means it uses that key and authenticates.",
    ),
  cwd: z.string().optional().describe("Working directory (relative to the config file)."),
  timeoutSeconds: z.number().positive().max(600).default(30).describe("Per run of the command."),
  passEnv: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"))
    .default([])
    .describe(
      "Environment variables to pass to the check besides PATH, HOME, USER, LANG, LC_ALL, TZ and TMPDIR. Nothing else is passed: rotator's own environment holds the admin credential.",
    ),
});

export const consumerEntrySchema = z.discriminatedUnion("type", [
  httpConsumerSchema,
  commandConsumerSchema,
  kubernetesConsumerSchema,
]);

export type ConsumerEntry = z.infer<typeof consumerEntrySchema>;
export type HttpConsumerEntry = z.infer<typeof httpConsumerSchema>;
export type CommandConsumerEntry = z.infer<typeof commandConsumerSchema>;
