/**
 * A secret whose value is a JSON object holding the credential's fields next to whatever else the operator keeps
 * there (AWS Secrets Manager, Azure Key Vault). Rotator only ever changes its own fields.
 */
import { createHash } from "node:crypto";
import type { StoredCredential } from "./contract.js";
import type { StoredFields } from "./fields.js";

export type SecretObject = Record<string, unknown>;

/**
 * The object a secret string holds; an empty (or blank) string counts as an empty object, since there is nothing
 * in it to keep. Undefined if the text is not a JSON object. Never throws: a JSON parser's error message quotes
 * the text it choked on, which here is a secret.
 */
export function parseSecretObject(text: string): SecretObject | undefined {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as SecretObject) : undefined;
}

/**
 * The secret string with the credential's fields set, the optional ones it lacks removed (a retired previous token
 * must not stay behind), and every other field kept, in its place.
 */
export function withCredential(object: SecretObject, credential: StoredCredential, fields: StoredFields): string {
  const next: SecretObject = { ...object, ...fields.toStore(credential) };
  for (const name of fields.absentNames(credential)) delete next[name];
  return JSON.stringify(next);
}

/**
 * 64 bits of the SHA-256 of a JSON object in a canonical form (keys sorted at every level, no whitespace): what a
 * restore point keeps of the value a rollback will write back, so that rollback can check the value it is about
 * to write is the one read before the run (not a corrupted or substituted read). Journaled, so it must not reveal
 * the secret: 64 bits cannot single out one value of a 128-bit secret (see the dotenv provider).
 */
export function contentHash(object: SecretObject): string {
  return createHash("sha256").update(canonicalJson(object)).digest("hex").slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
