/**
 * Identifier, secret and date formats exactly as Twilio writes them (see vendor/twilio-oai): SIDs are a
 * two-letter prefix and 32 lowercase hex digits, auth tokens 32 hex digits, dates RFC 2822 on api/iam and
 * ISO 8601 without milliseconds on accounts v1.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
export const KEY_SID = /^SK[0-9a-fA-F]{32}$/;
export const AUTH_TOKEN = /^[0-9a-fA-F]{32}$/;

let pool = Buffer.alloc(0);
let used = 0;

/**
 * Random bytes drawn from a pooled buffer: one system call per 4 KiB instead of one per SID, which keeps
 * creating fleets of thousands of subaccounts (each with a token per Region) cheap.
 */
function random(size: number): Buffer {
  if (used + size > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += size;
  return pool.subarray(used - size, used);
}

/** AC accounts, SK keys, SM messages, PN phone numbers, CA calls. */
export function newSid(prefix: "AC" | "SK" | "SM" | "PN" | "CA"): string {
  return prefix + random(16).toString("hex");
}

export function newAuthToken(): string {
  return random(16).toString("hex");
}

/** Key secrets are 32 characters of base62 on Twilio; the emulator keeps that shape. */
export function newKeySecret(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 is the largest multiple of 62 below 256: rejecting bytes above it keeps the characters uniform.
  let out = "";
  while (out.length < 32) {
    for (const byte of random(48)) {
      if (byte < 248 && out.length < 32) out += alphabet[byte % 62];
    }
  }
  return out;
}

/** One-way digest used to compare secrets in constant time and to fingerprint them in snapshots. */
export function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

export function sameSecret(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

/** A short, non-reversible label that tells tokens apart in snapshots without revealing them. */
export function fingerprint(secret: string): string {
  return fingerprintOf(digest(secret));
}

/** The same label from a digest already computed. */
export function fingerprintOf(secretDigest: Buffer): string {
  return `sha256:${secretDigest.toString("hex").slice(0, 16)}`;
}

/** `Mon, 13 Jun 2016 22:50:08 +0000`, the form api.twilio.com and iam.twilio.com use. */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/** `2015-07-31T04:00:00Z`, the form accounts.twilio.com uses (no milliseconds). */
export function iso8601(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Twilio's default subaccount name: `SubAccount Created at {YYYY-MM-DD HH:MM meridian}` (spec text). */
export function defaultSubaccountName(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const hours = date.getUTCHours();
  const meridian = hours < 12 ? "am" : "pm";
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  return `SubAccount Created at ${day} ${pad(hours % 12 || 12)}:${pad(date.getUTCMinutes())} ${meridian}`;
}

/** Twilio stores times to the second; dropping milliseconds keeps RFC 2822 round trips exact. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
