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

function shapeProblems(label: string, value: string, pattern: RegExp, length: number, expected: string): string[] {
  const problems: string[] = [];
  if (value !== value.trim())
    problems.push(`${label} has leading or trailing whitespace (a stray newline from a file?)`);
  if (/^["'].*["']$/.test(value.trim())) problems.push(`${label} is wrapped in quotes; remove them`);
  const core = value.trim().replace(/^["']|["']$/g, "");
  if (core.length !== length) {
    problems.push(`${label} is ${core.length} characters, ${expected}${core.length < length ? " (truncated?)" : ""}`);
  } else if (!pattern.test(core)) problems.push(`${label} does not look right: ${expected}`);
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
  const problems: string[] = [];
  if (value !== value.trim())
    problems.push("has leading or trailing whitespace (a stray space or newline?); remove it");
  let core = value.trim();
  if (/^["'].*["']$/.test(core)) {
    problems.push("is wrapped in quotes that are part of the value; remove the inner quotes");
    core = core.slice(1, -1).trim();
  }
  const expected = `${name} is 34 characters: ${prefix} followed by 32 hex digits`;
  if (pattern.test(core)) return problems;
  if (/^[0-9a-fA-F]{32}$/.test(core) || /^[A-Za-z0-9]{32}$/.test(core)) {
    problems.push(
      `looks like a secret (an Auth Token or key secret: 32 characters, no ${prefix} prefix), not ${name}; ` +
        "secret values never go in the config: delete it from this file, put the secret in an environment " +
        "variable referenced as { env: NAME }, and rotate it if the file was shared",
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
      ...shapeProblems(
        `the key secret (${shape.passwordSource})`,
        shape.password,
        KEY_SECRET,
        32,
        "expected 32 letters and digits",
      ),
    );
  } else {
    causes.push(
      ...shapeProblems(`the auth token (${shape.passwordSource})`, shape.password, HEX32, 32, "expected 32 hex digits"),
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
