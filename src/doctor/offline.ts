/**
 * Doctor's offline checks: what can be told from the values alone, before any call. Built on the same
 * shape rules as the config's (twilio/diagnose.ts): prefixes and lengths of SIDs, stray whitespace, line
 * breaks, quotes, byte-order marks, truncation at either end, token and key-secret formats, and a key secret
 * where the auth token belongs or the reverse. Values are never quoted, not even in part.
 */
import type { StoredCredential } from "../../providers/contract.js";
import type { CredentialTypeDefinition } from "../credentials/definition.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { shapeProblems, sidShaped, type ValueShape } from "../twilio/diagnose.js";
import { CONSOLE, type Finding, failed, passed } from "./findings.js";
import { type Candidate, type Field, fieldsOf } from "./sources.js";

/**
 * Per shape of value (a credential type's fields say which shape each is): the finding's check name, how to fix a
 * malformed one, and where in the Console to find it again.
 */
const SHAPES: Record<ValueShape, { check: string; fix: string; console: string }> = {
  "account-sid": {
    check: "account-sid-format",
    fix: "copy the Account SID again from the Console dashboard, whole, with nothing before or after it",
    console: CONSOLE.dashboard,
  },
  "key-sid": {
    check: "key-sid-format",
    fix: "copy the key's SID (SK…) again, whole, with nothing before or after it",
    console: CONSOLE.keys,
  },
  "key-secret": {
    check: "key-secret-format",
    fix: "put the secret Twilio showed once when the key was created, whole and unquoted; if it is lost, create a new key (or let `rotator rotate` do it)",
    console: CONSOLE.keys,
  },
  "account-token": {
    check: "auth-token-format",
    fix: "copy the primary Auth Token again (View), whole and unquoted",
    console: CONSOLE.authTokens,
  },
};

/** The shape of a field of a type, when its definition says (a plug-in's field may not be one of Twilio's). */
function shapeOf(type: CredentialTypeDefinition, key: Field): ValueShape | undefined {
  return type.fields.find((field) => field.key === key)?.shape;
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
  const type = credentialTypeOf(candidate.kind);
  const fields = fieldsOf(type);
  const missing = fields.filter((field) => values[field] === undefined || values[field]?.trim() === "");
  if (missing.length > 0) {
    const words = missing.map((field) => `${names[field]} is ${values[field] === undefined ? "not set" : "empty"}`);
    const needs = type.doctor?.needs ?? `a ${type.labels.long} needs ${fields.join(", ")}`;
    const shape = shapeOf(type, missing[0]!);
    findings.push(
      failed("variables", subject, {
        cause: words.join(", "),
        fix: `set ${missing.map((field) => names[field]).join(" and ")} (${needs})`,
        certainty: "certain",
        ...(shape === undefined ? {} : { console: SHAPES[shape].console }),
      }),
    );
  } else findings.push(passed("variables", subject, `${fields.map((f) => names[f]).join(", ")} set`));

  let wellFormed = missing.length === 0;
  for (const field of fields) {
    const value = values[field];
    const shape = shapeOf(type, field);
    if (value === undefined || value.trim() === "" || shape === undefined) continue;
    const problems = shapeProblems(value, shape);
    const { check, fix, console } = SHAPES[shape];
    if (problems.length === 0) {
      findings.push(passed(check, subject, `${names[field]} is well formed`));
      continue;
    }
    wellFormed = false;
    findings.push(
      failed(check, subject, {
        cause: `${names[field]} ${problems.join("; and it ")}`,
        fix,
        certainty: "certain",
        console,
      }),
    );
  }
  const credential = missing.length === 0 ? toCredential(type, values) : undefined;
  const cleanedValues = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, strip(v ?? "")]));
  const cleaned = credential === undefined ? undefined : toCredential(type, cleanedValues);
  const changed = cleaned !== undefined && JSON.stringify(cleaned) !== JSON.stringify(credential);
  return { findings, credential, cleaned: changed ? cleaned : undefined, wellFormed };
}

/** The value without what a copy or a file adds around it: BOM, whitespace, line breaks, wrapping quotes. */
function strip(value: string): string {
  let core = value.replaceAll("\uFEFF", "").trim();
  if (/^["'`].*["'`]$/s.test(core) && core.length >= 2) core = core.slice(1, -1).trim();
  return core;
}

/** The credential an app would be handed: each field the type needs, as found. */
function toCredential(type: CredentialTypeDefinition, values: Partial<Record<Field, string>>): StoredCredential {
  const fields = Object.fromEntries(fieldsOf(type).map((field) => [field, values[field] ?? ""]));
  return { ...fields, kind: type.type, accountSid: values.accountSid ?? "" };
}

/** Whether the SIDs are at least shaped right: only then is an online call worth making. */
export function sidsUsable(credential: StoredCredential): boolean {
  return credentialTypeOf(credential.kind).fields.every((field) => {
    const value = credential[field.key];
    return field.shape === undefined || value === undefined || sidShaped(value, field.shape);
  });
}
