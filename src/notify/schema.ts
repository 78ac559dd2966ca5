/**
 * The `notify:` section of the config: where rotator tells people how a run ended and what `watch` saw.
 * A webhook gets rotator's JSON event (signed with HMAC-SHA256 when it has a secret); a Slack incoming
 * webhook gets Slack's `{ "text": … }`. A Slack webhook URL is itself a credential (whoever has it may post
 * to the channel), so it is given as `{ env: NAME }`, never written in the config.
 */
import * as z from "zod";
import { envReferenceFor, httpUrl } from "../config/schema-parts.js";

import { NOTIFY_EVENTS } from "./events.js";

export { NOTIFY_EVENTS, type NotifyEvent } from "./events.js";

const events = z
  .array(z.enum(NOTIFY_EVENTS, { error: `must be one of ${NOTIFY_EVENTS.join(", ")}` }))
  .min(1, "list at least one event, or leave events out for all of them")
  .optional()
  .describe(`Which events to send (default: all): ${NOTIFY_EVENTS.join(", ")}.`);

const timeoutSeconds = z
  .number()
  .positive()
  .max(60)
  .default(5)
  .describe("How long one delivery attempt may take before it is abandoned (3 attempts at most).");

export const webhookNotifySchema = z
  .strictObject({
    type: z.literal("webhook"),
    url: httpUrl({
      example: "https://hooks.example.com/rotator",
      shape: "any",
      credentialsInstead: "sign the body with secret: { env: NAME } instead",
    }).describe("POSTed a JSON event."),
    secret: envReferenceFor({ example: "ROTATOR_WEBHOOK_SECRET", what: "the signing secret" })
      .optional()
      .describe(
        "Sign each body: X-Rotator-Signature is sha256= and the HMAC-SHA256, keyed with this secret, of the X-Rotator-Timestamp header, a dot, and the body.",
      ),
    events,
    timeoutSeconds,
  })
  .describe("A JSON webhook.");

export const slackNotifySchema = z
  .strictObject({
    type: z.literal("slack"),
    url: envReferenceFor({ example: "SLACK_WEBHOOK_URL", what: "the webhook URL" }).describe(
      "The Slack incoming-webhook URL, read from this environment variable (the URL is a credential).",
    ),
    events,
    timeoutSeconds,
  })
  .describe("A Slack incoming webhook.");

export const notifyEntrySchema = z.discriminatedUnion("type", [webhookNotifySchema, slackNotifySchema], {
  error: "must be { type: webhook, url, secret?, events? } or { type: slack, url: { env: NAME }, events? }",
});

export const notifySchema = z
  .array(notifyEntrySchema)
  .default([])
  .describe("Where to send notifications: rotations' outcomes and watch's failures and recoveries.");

export type NotifyEntry = z.infer<typeof notifyEntrySchema>;
