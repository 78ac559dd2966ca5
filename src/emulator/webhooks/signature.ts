/**
 * How Twilio signs a webhook (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64 of
 * HMAC-SHA1 keyed with the account's primary auth token, over the full URL it requests followed by every
 * POST parameter's name and value, sorted by name, with no separators. A GET carries its parameters in the
 * query string, which is then part of the URL, and signs no body.
 *
 * Written here from the documentation rather than borrowed from the twilio package, so that tests checking
 * these signatures with the package's validateRequest compare two independent implementations.
 */
import { createHmac } from "node:crypto";
import type { WebhookMethod } from "../phone-numbers.js";

export type WebhookParams = Readonly<Record<string, string>>;

export function twilioSignature(key: string, url: string, params: WebhookParams): string {
  const hmac = createHmac("sha1", key).update(url, "utf8");
  for (const name of Object.keys(params).sort()) hmac.update(`${name}${params[name]}`, "utf8");
  return hmac.digest("base64");
}

/** What goes on the wire for one webhook: the URL requested, its body, and what the signature covers. */
export interface WebhookRequest {
  /** The URL to request, as configured (a user:password in it is sent as Basic auth). */
  url: string;
  method: WebhookMethod;
  /** Form-encoded parameters of a POST; undefined for a GET. */
  body: string | undefined;
  /** The URL as a receiver sees it: the configured string, untouched but for any user:password. */
  signedUrl: string;
  /** The parameters the signature covers (none for a GET: they are in the URL). */
  signedParams: WebhookParams;
}

/**
 * The configured URL is kept as the string it is, not normalized through `new URL()` (which would add a
 * slash to a bare origin or re-encode a query): apps validate against the URL they configured.
 */
export function webhookRequest(configured: string, method: WebhookMethod, params: WebhookParams): WebhookRequest {
  if (method === "GET") {
    const query = new URLSearchParams(params as Record<string, string>).toString();
    const [beforeFragment = configured] = configured.split("#", 1);
    const url = query === "" ? beforeFragment : `${beforeFragment}${beforeFragment.includes("?") ? "&" : "?"}${query}`;
    return { url, method, body: undefined, signedUrl: withoutCredentials(url), signedParams: {} };
  }
  const body = new URLSearchParams(params as Record<string, string>).toString();
  return { url: configured, method, body, signedUrl: withoutCredentials(configured), signedParams: params };
}

/**
 * Twilio fetches `https://user:password@host/...` with Basic auth. A receiver's validator rebuilds the URL
 * from the request it got, which has no user:password in it, so that is the URL signed (and the only form
 * the emulator ever reports, keeping the password out of its counters).
 */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, "$1");
}

/** What Twilio accepts as a webhook URL: absolute http(s) with a host. */
export function isWebhookUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}
