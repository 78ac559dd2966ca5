/**
 * Masking for identifiers shown to people (`SK…a1b2`) and a last line of defence against secrets reaching
 * any output: every secret the process learns is registered, and everything rotator writes out goes through
 * `redact`: text on stdout and stderr directly, and every JSON document (`--json` results, journal records
 * on disk and in PostgreSQL, webhook bodies) through `redactedJson`, which hands each of its strings to
 * `redact` before serialising. Redacting a serialised document instead would miss a secret JSON escaping
 * changed (`\"x-amz-security-token\":\"v\"` no longer looks like a header, `a\"b` is not `a"b`).
 */

/** `SKxxxxxxxx…a1b2`: the type prefix and the last four characters, enough to tell keys apart. */
export function maskSid(sid: string | undefined): string {
  if (sid === undefined || sid.length === 0) return "(none)";
  if (sid.length <= 8) return "…";
  return `${sid.slice(0, 2)}…${sid.slice(-4)}`;
}

const REDACTED = "[REDACTED]";

/** Each registered secret with the forms it may take in text: as given, JSON-escaped (once and twice), URL-encoded. */
const secrets = new Map<string, readonly string[]>();
/** Every form of every secret, longest first: an escaped form is cut whole before a shorter raw form inside it. */
let secretForms: readonly string[] = [];

/** Remember a secret value so that `redact` removes it from anything written out. Short values are ignored. */
export function registerSecret(value: string | undefined): void {
  // Shorter values would redact ordinary words; Twilio secrets and tokens are 32 characters, and a bearer
  // token shorter than 8 characters protects nothing anyway.
  if (value === undefined || value.length < 8 || secrets.has(value)) return;
  secrets.set(value, escapedForms(value));
  secretForms = [...new Set([...secrets.values()].flat())].sort((a, b) => b.length - a.length);
}

/**
 * How a value reads once an output escaped it: inside a JSON string (and a JSON string inside that), and in a
 * URL or form body (`%2F`, and `+` for a space). A Twilio secret is alphanumeric and reads the same in all of
 * them; a PostgreSQL password or a cloud token may not.
 */
function escapedForms(value: string): string[] {
  const jsonOnce = JSON.stringify(value).slice(1, -1);
  const jsonTwice = JSON.stringify(jsonOnce).slice(1, -1);
  const url = encodeURIComponent(value);
  return [...new Set([value, jsonOnce, jsonTwice, url, url.replaceAll("%20", "+")])];
}

/** A quote, however many escaping layers deep: `"`, `\"`, `\\\"`, `'`, or URL-encoded (`%22`, `%27`). */
const QUOTE = String.raw`(?:\\*["']|%2[27])`;
/** Where a header's name may start: not inside a longer word, but right after a URL escape (`%3FX-Amz-…`). */
const START = String.raw`(?:(?<=%[0-9A-Fa-f]{2})|(?<![\w-]))`;
/** What joins a header to its value: `:` or `=`, URL-encoded too (`%3A`, `%3D`). */
const JOIN = "(?:[:=]|%3[AaDd])";
/** A space between an auth scheme and its value: a blank, or URL/form-encoded. */
const SPACE = String.raw`(?:\s+|%20|\+)`;
/** The value runs to the first quote (escaped or encoded), backslash, blank, or list/URL separator. */
const VALUE = String.raw`(?:(?!%2[27])[^"'\\\s,;&})\]])+`;

/**
 * Credential-bearing headers, however an SDK's error or debug line quotes them: `X-Amz-Security-Token: v`,
 * `"x-amz-security-token": "v"`, the same inside a JSON string (`\"…\":\"v\"`), `Authorization: Basic v`,
 * `X-Vault-Token=v`, `X-Amz-Security-Token=v` in a presigned URL, `%22authorization%22%3A%22Bearer%20v`. Their
 * values are secrets that rotator never registered (they come from the environment's credential chains), so
 * they are cut by shape.
 */
const CREDENTIAL_HEADER = new RegExp(
  String.raw`(${QUOTE}?${START}(?:x-amz-security-token|authorization|proxy-authorization|x-vault-token|x-api-key|x-ms-authorization-auxiliary)${QUOTE}?\s*${JOIN}\s*${QUOTE}?)((?:basic|bearer|token)${SPACE})?(${VALUE})`,
  "gi",
);

/** The text with every registered secret (in any of its escaped forms) and every credential header value cut. */
export function redact(text: string): string {
  let out = text;
  for (const form of secretForms) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out.replace(CREDENTIAL_HEADER, (match, name: string, scheme: string | undefined, value: string) =>
    // Already cut (a document redacted as strings, then as text): left as it is.
    value.startsWith("[REDACTED") ? match : `${name}${scheme ?? ""}${REDACTED}`,
  );
}

/**
 * `JSON.stringify(value, null, space)` with every string in it (values and keys) redacted before it is
 * escaped, and the document redacted once more as text. The one way a JSON document leaves rotator.
 */
export function redactedJson(value: unknown, space?: number): string {
  const text = JSON.stringify(value, redactStrings, space);
  return text === undefined ? "null" : redact(text);
}

function redactStrings(this: unknown, _key: string, item: unknown): unknown {
  if (typeof item === "string") return redact(item);
  if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
  // Keys are not passed to a replacer: an object whose keys change when redacted is rebuilt.
  const entries = Object.entries(item);
  if (entries.every(([key]) => redact(key) === key)) return item;
  return Object.fromEntries(entries.map(([key, entry]) => [redact(key), entry]));
}

/** For tests: forget registered secrets. */
export function clearRegisteredSecrets(): void {
  secrets.clear();
  secretForms = [];
}
