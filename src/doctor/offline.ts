/**
 * Doctor's offline checks: what can be told from the values alone, before any call. Built on the same
 * shape rules as the config's (twilio/diagnose.ts): prefixes and lengths of SIDs, stray whitespace, line
 * breaks, quotes, byte-order marks, truncation at either end, token and key-secret formats, and a key secret
 * where the auth token belongs or the reverse. Values are never quoted, not even in part.
 */
import type { StoredCredential } from "../../providers/contract.js";
import { ACCOUNT_SID, KEY_SID, secretProblems, sidProblems } from "../twilio/diagnose.js";
import { CONSOLE, type Finding, failed, passed } from "./findings.js";
import type { Candidate, Field } from "./sources.js";

const FIXES: Record<Field, { fix: string; console: string }> = {
  accountSid: {
    fix: "copy the Account SID again from the Console dashboard, whole, with nothing before or after it",
    console: CONSOLE.dashboard,
  },
  apiKeySid: {
    fix: "copy the key's SID (SK…) again, whole, with nothing before or after it",
    console: CONSOLE.keys,
  },
  apiKeySecret: {
    fix: "put the secret Twilio showed once when the key was created, whole and unquoted; if it is lost, create a new key (or let `rotator rotate` do it)",
    console: CONSOLE.keys,
  },
  authToken: {
    fix: "copy the primary Auth Token again (View), whole and unquoted",
    console: CONSOLE.authTokens,
  },
};

const CHECK: Record<Field, string> = {
  accountSid: "account-sid-format",
  apiKeySid: "key-sid-format",
  apiKeySecret: "key-secret-format",
  authToken: "auth-token-format",
};

/** The fields a credential of this kind needs, in the order they are checked. */
export function fieldsOf(kind: Candidate["kind"]): Field[] {
  return kind === "api-key" ? ["accountSid", "apiKeySid", "apiKeySecret"] : ["accountSid", "authToken"];
}

export interface OfflineVerdict {
  findings: Finding[];
  /** The credential as an app would use it, when every field is present (malformed or not). */
  credential: StoredCredential | undefined;
  /** The same with stray characters (spaces, line breaks, quotes, BOM) removed, when that changed anything. */
  cleaned: StoredCredential | undefined;
  /** Whether every value is well formed. */
  wellFormed: boolean;
}

export function offlineChecks(candidate: Candidate): OfflineVerdict {
  const { subject, values, names } = candidate;
  const findings: Finding[] = [];
  if (candidate.sourceProblems.length > 0) {
    findings.push(
      failed("file-format", subject, {
        cause: `the file ${candidate.sourceProblems.join("; and it ")}`,
        fix: "save it as UTF-8 without BOM, with Unix line endings (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//; s/\\r$//' FILE`)",
        certainty: "certain",
      }),
    );
  }
  const fields = fieldsOf(candidate.kind);
  const missing = fields.filter((field) => values[field] === undefined || values[field]?.trim() === "");
  if (missing.length > 0) {
    const words = missing.map((field) => `${names[field]} is ${values[field] === undefined ? "not set" : "empty"}`);
    findings.push(
      failed("variables", subject, {
        cause: words.join(", "),
        fix: `set ${missing.map((field) => names[field]).join(" and ")} (${candidate.kind === "api-key" ? "an API key needs the account SID, the key SID and its secret" : "an Auth Token needs the account SID beside it"})`,
        certainty: "certain",
        console: FIXES[missing[0]!].console,
      }),
    );
  } else findings.push(passed("variables", subject, `${fields.map((f) => names[f]).join(", ")} set`));

  let wellFormed = missing.length === 0;
  for (const field of fields) {
    const value = values[field];
    if (value === undefined || value.trim() === "") continue;
    const problems =
      field === "accountSid"
        ? sidProblems(value, "account")
        : field === "apiKeySid"
          ? sidProblems(value, "key")
          : secretProblems(value, field === "authToken" ? "auth-token" : "key-secret");
    if (problems.length === 0) {
      findings.push(passed(CHECK[field], subject, `${names[field]} is well formed`));
      continue;
    }
    wellFormed = false;
    findings.push(
      failed(CHECK[field], subject, {
        cause: `${names[field]} ${problems.join("; and it ")}`,
        fix: FIXES[field].fix,
        certainty: "certain",
        console: FIXES[field].console,
      }),
    );
  }
  const credential = missing.length === 0 ? toCredential(candidate.kind, values) : undefined;
  const cleanedValues = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, strip(v ?? "")]));
  const cleaned = credential === undefined ? undefined : toCredential(candidate.kind, cleanedValues);
  const changed = cleaned !== undefined && JSON.stringify(cleaned) !== JSON.stringify(credential);
  return { findings, credential, cleaned: changed ? cleaned : undefined, wellFormed };
}

/** The value without what a copy or a file adds around it: BOM, whitespace, line breaks, wrapping quotes. */
function strip(value: string): string {
  let core = value.replaceAll("\uFEFF", "").trim();
  if (/^["'`].*["'`]$/s.test(core) && core.length >= 2) core = core.slice(1, -1).trim();
  return core;
}

function toCredential(kind: Candidate["kind"], values: Partial<Record<Field, string>>): StoredCredential {
  return kind === "api-key"
    ? {
        kind,
        accountSid: values.accountSid ?? "",
        apiKeySid: values.apiKeySid ?? "",
        apiKeySecret: values.apiKeySecret ?? "",
      }
    : { kind, accountSid: values.accountSid ?? "", authToken: values.authToken ?? "" };
}

/** Whether the SIDs are at least shaped right: only then is an online call worth making. */
export function sidsUsable(credential: StoredCredential): boolean {
  return (
    ACCOUNT_SID.test(credential.accountSid) &&
    (credential.apiKeySid === undefined || KEY_SID.test(credential.apiKeySid))
  );
}
