/**
 * Is this webhook from Twilio? Checked against a SET of secrets, because across an Auth Token rotation
 * Twilio signs with whichever token is primary on its side (and, while a promote propagates, still the old
 * one), while the app may already hold the new one: an app that trusts only its current token rejects
 * genuine webhooks in that window. twilio-ruby's Rack middleware accepts several tokens for the same
 * reason. The signature itself is checked by the twilio package's own validators, once per secret.
 *
 * - No `X-Twilio-Webhooks-Signature-Settings` header: signed with an auth token (HMAC-SHA1).
 * - With it: signed with a Webhooks Rule's SharedKey, by the algorithm the header names (HMAC_SHA1 or
 *   HMAC_SHA256), checked against the shared-key secrets only, as twilio's own `webhook()` does.
 * - A URL carrying `bodySHA256` (JSON webhooks) is checked with `validateRequestWithBody` over the raw body.
 */
import { getSignatureAlgorithm, validateRequest, validateRequestWithBody } from "twilio/lib/webhooks/webhooks.js";
import { tokenFingerprint } from "../../providers/contract.js";

export const SIGNATURE_HEADER = "x-twilio-signature";
export const SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings";
const ALGORITHMS = ["HMAC_SHA1", "HMAC_SHA256"];

export interface SignedWebhook {
  /** The `X-Twilio-Signature` header ("" or undefined when absent). */
  signature: string | undefined;
  /** The `X-Twilio-Webhooks-Signature-Settings` header, when present. */
  signatureSettings?: string | undefined;
  /** The full URL Twilio requested, query string included. */
  url: string;
  /** The form parameters of a POST ({} for a GET); a repeated name carries an array. */
  params: Readonly<Record<string, string | readonly string[]>>;
  /** The raw body, needed only for JSON webhooks (URLs with `bodySHA256`). */
  rawBody?: string | undefined;
}

/** The secrets an app trusts now. */
export interface TrustedSecrets {
  /** Auth tokens: the current one and, during a rotation, the other. */
  authTokens: readonly string[];
  /** SharedKey secrets of Webhooks Rules (several while one is rotated). */
  sharedKeys?: readonly string[];
}

export type WebhookVerdict =
  /** `by` is the fingerprint of the auth token that matched, or `shared-key:<fingerprint>`. */
  { valid: true; by: string } | { valid: false; reason: RejectionReason };

export type RejectionReason =
  /** No X-Twilio-Signature header. */
  | "no-signature"
  /** Signed, but by none of the trusted secrets (or tampered with). */
  | "bad-signature"
  /** Signed with a SharedKey while the app trusts none, or by an algorithm the twilio package lacks. */
  | "no-shared-key"
  | "unsupported-algorithm"
  /** The app trusts no auth token right now (its store could not be read, say). */
  | "no-trusted-token";

export function verifyTwilioWebhook(webhook: SignedWebhook, trusted: TrustedSecrets): WebhookVerdict {
  const signature = webhook.signature ?? "";
  if (signature === "") return { valid: false, reason: "no-signature" };
  const settings = webhook.signatureSettings;
  const withSharedKey = settings !== undefined && settings !== "";
  const algorithm = getSignatureAlgorithm(settings);
  if (!ALGORITHMS.includes(algorithm.toUpperCase())) return { valid: false, reason: "unsupported-algorithm" };
  const secrets = withSharedKey ? (trusted.sharedKeys ?? []) : trusted.authTokens;
  if (secrets.length === 0) return { valid: false, reason: withSharedKey ? "no-shared-key" : "no-trusted-token" };
  const withBody = webhook.url.includes("bodySHA256") && webhook.rawBody !== undefined;
  for (const secret of secrets) {
    const valid = withBody
      ? validateRequestWithBody(secret, signature, webhook.url, webhook.rawBody ?? "", algorithm)
      : validateRequest(secret, signature, webhook.url, webhook.params as Record<string, unknown>, algorithm);
    if (valid)
      return { valid: true, by: withSharedKey ? `shared-key:${tokenFingerprint(secret)}` : tokenFingerprint(secret) };
  }
  return { valid: false, reason: "bad-signature" };
}
