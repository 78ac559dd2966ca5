/**
 * Turning Twilio's bare 20003 ("Authenticate") into likely causes. Twilio's own list of causes: a wrong
 * or truncated SID or token, a deleted API key, an Auth Token replaced by promotion, a suspended or closed
 * account, a proxy stripping the Authorization header, a key from another region. Only the shape of the
 * values is inspected; the values themselves are never shown.
 */

/** Twilio writes SIDs with lower-case hex; upper-case hex is accepted and normalised by the config loader. */
export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
export const KEY_SID = /^SK[0-9a-fA-F]{32}$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;
/** Key secrets are 32 letters and digits (not only hex). */
const KEY_SECRET = /^[A-Za-z0-9]{32}$/;

export interface AdminCredentialShape {
  accountSid: string;
  /** The Basic-auth user: the account SID, or a Main key SID. */
  username: string;
  password: string;
  /** Where the password came from, for messages, e.g. `env TWILIO_AUTH_TOKEN`. */
  passwordSource: string;
}

/** A UTF-8 byte-order mark, which editors on Windows put at the start of a file (and so of its first value). */
const BOM = "\uFEFF";

/**
 * Characters a copy or a file adds around a value: a byte-order mark, line breaks (a file read whole, CRLF
 * endings), spaces and tabs, and quotes that are part of the value. Each is one problem, worded to follow
 * a label ("TWILIO_AUTH_TOKEN has …"); `core` is the value without them, for the checks that follow.
 */
function strayCharacters(value: string): { problems: string[]; core: string } {
  const problems: string[] = [];
  let core = value;
  if (core.includes(BOM)) {
    problems.push(
      "starts with a byte-order mark (an invisible U+FEFF an editor saved); save the file as UTF-8 without BOM",
    );
    core = core.replaceAll(BOM, "");
  }
  // Line breaks at either end are stray whitespace (below); one inside the value is worth its own words.
  if (/[\r\n]/.test(core.trim())) {
    problems.push(
      /\r/.test(core.trim())
        ? "contains a carriage return (a file with Windows line endings?); remove it"
        : "contains a line break (read from a file with its final newline?); remove it",
    );
    core = core.replace(/(\S)[\r\n]+(?=\S)/g, "$1");
  }
  if (core !== core.trim()) problems.push("has leading or trailing whitespace (a stray space or newline?); remove it");
  core = core.trim();
  if (/^["'`].*["'`]$/s.test(core) && core.length >= 2) {
    problems.push("is wrapped in quotes that are part of the value; remove the inner quotes");
    core = core.slice(1, -1).trim();
  }
  return { problems, core };
}

/** The shapes of Twilio's secrets: an account's Auth Token (32 hex digits), an API key's secret. */
export type SecretKind = "account-token" | "key-secret";

/**
 * The shape of a value Twilio hands out, so a credential type's field can say which it is (its definition's
 * `shape`) and doctor checks it without knowing the type: an account SID, an API key SID, or a secret.
 */
export type ValueShape = "account-sid" | "key-sid" | SecretKind;

const SECRET_KINDS = {
  "account-token": { name: "an Auth Token", expected: "32 hex digits (0-9, a-f)" },
  "key-secret": { name: "an API key secret", expected: "32 letters and digits" },
} as const;

/**
 * What is wrong with a value given as an Auth Token (32 hex) or an API key secret (32 letters and digits),
 * each with its fix; empty when it is well formed. Phrased to follow the value's name ("TWILIO_AUTH_TOKEN is
 * 31 characters; …"). Never quotes the value, nor any part of it.
 */
export function secretProblems(value: string, kind: SecretKind): string[] {
  const { name, expected } = SECRET_KINDS[kind];
  const { problems, core } = strayCharacters(value);
  if (ACCOUNT_SID.test(core) || KEY_SID.test(core)) {
    problems.push(
      `is ${core.startsWith("AC") ? "an account SID" : "an API key SID"}, not ${name}: the SID and the secret were swapped or pasted twice`,
    );
    return problems;
  }
  if (kind === "account-token" && KEY_SECRET.test(core) && !HEX32.test(core)) {
    problems.push(
      "looks like an API key secret (letters beyond a-f), not an Auth Token (32 hex digits): a key secret was stored where the auth token belongs; use the key with its SID (TWILIO_API_KEY / TWILIO_API_SECRET), or put the Auth Token here",
    );
    return problems;
  }
  if (kind === "key-secret" && HEX32.test(core)) {
    problems.push(
      "looks like an Auth Token (32 hex digits), not an API key secret: the auth token was stored where the key secret belongs; put the secret Twilio showed when the key was created here, or use the token as TWILIO_AUTH_TOKEN",
    );
    return problems;
  }
  if (core.length === 0) {
    problems.push(`is empty; ${name} is ${expected}`);
  } else if (core.length !== 32) {
    problems.push(
      `is ${core.length} characters; ${name} is ${expected}${core.length < 32 ? ` (${32 - core.length} cut off at the start or the end when copied?)` : " (pasted twice, or with something else?)"}`,
    );
  } else if (!(kind === "account-token" ? HEX32 : KEY_SECRET).test(core)) {
    problems.push(`has characters that cannot be in ${name}: ${name} is ${expected}`);
  }
  return problems;
}

const SID_KINDS = {
  account: { prefix: "AC", name: "an account SID", other: "SK", otherName: "an API key SID" },
  key: { prefix: "SK", name: "an API key SID", other: "AC", otherName: "an account SID" },
} as const;

/**
 * What is wrong with a value given as an account SID (`AC` + 32 hex) or API key SID (`SK` + 32 hex), each
 * with its fix, most specific first; empty when it is well formed. Phrased to follow the field's name
 * ("twilio.accountSid is 33 characters; ..."). Never quotes the value: a user may have pasted a token.
 */
export function sidProblems(value: string, kind: keyof typeof SID_KINDS): string[] {
  const { prefix, name, other, otherName } = SID_KINDS[kind];
  const pattern = kind === "account" ? ACCOUNT_SID : KEY_SID;
  if (pattern.test(value)) return [];
  const { problems, core } = strayCharacters(value);
  const expected = `${name} is 34 characters: ${prefix} followed by 32 hex digits`;
  if (pattern.test(core)) return problems;
  // The upper-case prefix and hex digits, too few of them: a SID cut short, not a secret of 32 characters
  // (tokens are lower-case hex; a key secret of this shape is about one in 10^13).
  const digits = core.slice(2);
  if (core.startsWith(prefix) && /^[0-9a-fA-F]+$/.test(digits) && digits.length < 32) {
    problems.push(`is ${core.length} characters; ${expected} (truncated when copied?)`);
    return problems;
  }
  if (/^[0-9a-fA-F]{32}$/.test(core) || /^[A-Za-z0-9]{32}$/.test(core)) {
    problems.push(
      `looks like a secret (an Auth Token or key secret: 32 characters, no ${prefix} prefix), not ${name}; ` +
        "secret values never go in the config: delete it from this file, put the secret in an environment " +
        "variable referenced as { env: NAME }, and rotate it if the file was shared",
    );
    return problems;
  }
  if (core.length === 0) {
    problems.push(`is empty; ${expected}`);
    return problems;
  }
  // The end of a SID without its first characters: "C" and 32 hex, or 32 hex with a stray letter before.
  if (new RegExp(`^${prefix.slice(1)}[0-9a-fA-F]{32}$`).test(core)) {
    problems.push(
      `lost its first character: it reads like ${name} without the leading ${prefix[0]} (cut off at the start when copied?); ${expected}`,
    );
    return problems;
  }
  const start = core.slice(0, 2);
  if (start === prefix.toLowerCase()) {
    problems.push(`starts with "${start}"; ${name} starts with upper-case ${prefix}`);
  } else if (start.toUpperCase() === other) {
    problems.push(
      `is ${otherName} (${other}…), not ${name} (${prefix}…)` +
        (kind === "account"
          ? "; the account SID is on the Twilio Console's dashboard (a Main key's SID goes in twilio.admin.apiKeySid)"
          : "; create or look up the API key under Account > API keys & tokens in the Twilio Console"),
    );
  } else if (start.toUpperCase() !== prefix) {
    problems.push(`does not start with ${prefix}: ${expected}`);
  }
  if (core.length !== 34) {
    problems.push(`is ${core.length} characters; ${expected}${core.length < 34 ? " (truncated when copied?)" : ""}`);
  } else if (!/^[0-9a-fA-F]{32}$/.test(core.slice(2))) {
    problems.push(`has characters other than hex digits (0-9, a-f) after ${prefix}; ${expected}`);
  }
  return problems;
}

/** Likely causes of a 20003 for the admin credential, most specific first. */
export function diagnoseAdmin20003(shape: AdminCredentialShape): string[] {
  const causes: string[] = [];
  causes.push(...sidProblems(shape.accountSid, "account").map((problem) => `twilio.accountSid ${problem}`));
  const usingKey = shape.username !== shape.accountSid;
  if (usingKey) {
    causes.push(...sidProblems(shape.username, "key").map((problem) => `twilio.admin.apiKeySid ${problem}`));
    causes.push(
      ...secretProblems(shape.password, "key-secret").map(
        (problem) => `the key secret (${shape.passwordSource}) ${problem}`,
      ),
    );
  } else {
    causes.push(
      ...secretProblems(shape.password, "account-token").map(
        (problem) => `the auth token (${shape.passwordSource}) ${problem}`,
      ),
    );
  }
  if (causes.length === 0) {
    if (usingKey) {
      causes.push("the Main API key was deleted, or it belongs to another account than twilio.accountSid");
      causes.push("the key is a Standard key: only a Main key or the Auth Token may manage API keys");
      causes.push("the key was created in another Twilio region than the one this call went to");
    } else {
      causes.push("the Auth Token was rotated (a secondary token was promoted) and this is the previous one");
      causes.push("the token belongs to another account or subaccount than twilio.accountSid");
    }
    causes.push("the account is suspended or closed");
    causes.push("a proxy between rotator and Twilio strips the Authorization header");
  }
  return causes;
}

/** What is wrong with a value of this shape (sidProblems or secretProblems); empty when it is well formed. */
export function shapeProblems(value: string, shape: ValueShape): string[] {
  if (shape === "account-sid") return sidProblems(value, "account");
  if (shape === "key-sid") return sidProblems(value, "key");
  return secretProblems(value, shape);
}

/** Whether a value is a well-formed SID of its shape; true for a secret (no SID to be shaped right). */
export function sidShaped(value: string, shape: ValueShape): boolean {
  if (shape === "account-sid") return ACCOUNT_SID.test(value);
  if (shape === "key-sid") return KEY_SID.test(value);
  return true;
}
