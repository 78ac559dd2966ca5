/**
 * Turning Twilio's bare 20003 ("Authenticate") into likely causes. Twilio's own list of causes: a wrong
 * or truncated SID or token, a deleted API key, an Auth Token replaced by promotion, a suspended or closed
 * account, a proxy stripping the Authorization header, a key from another region. Only the shape of the
 * values is inspected; the values themselves are never shown.
 */

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const KEY_SID = /^SK[0-9a-fA-F]{32}$/;
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

/** Likely causes of a 20003 for the admin credential, most specific first. */
export function diagnoseAdmin20003(shape: AdminCredentialShape): string[] {
  const causes: string[] = [];
  causes.push(
    ...shapeProblems("twilio.accountSid", shape.accountSid, ACCOUNT_SID, 34, "expected AC followed by 32 hex digits"),
  );
  const usingKey = shape.username !== shape.accountSid;
  if (usingKey) {
    causes.push(
      ...shapeProblems("twilio.admin.apiKeySid", shape.username, KEY_SID, 34, "expected SK followed by 32 hex digits"),
    );
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
