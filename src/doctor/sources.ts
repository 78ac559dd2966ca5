/**
 * Where doctor finds credentials: the environment (as Twilio's helper libraries read it), an env file, or
 * every store of a config. Each becomes a Candidate holding the values exactly as found (stray spaces,
 * quotes and all), so the offline checks can see what an app would be handed.
 */
import { readFile } from "node:fs/promises";
import { dotenvValues } from "../../providers/dotenv-file/index.js";
import type { CredentialTypeDefinition } from "../credentials/definition.js";
import { registeredCredentialTypes } from "../credentials/registry.js";

/**
 * The variables Twilio's helper libraries read beside the credential (whose own variables are its type's
 * dotenv names: TWILIO_ACCOUNT_SID, TWILIO_API_KEY, ...).
 */
export const VARIABLES = {
  region: "TWILIO_REGION",
  edge: "TWILIO_EDGE",
} as const;

/** A field of a credential, by its key in the type's definition (`accountSid`, `apiKeySecret`, ...). */
export type Field = string;

/** One credential to examine, as found. */
export interface Candidate {
  /** For messages and findings: "environment (API key)", `env file /etc/app/twilio.env (Auth Token)`, `store "app-1"`. */
  subject: string;
  /** Its credential type (`credential.type`). */
  kind: string;
  /** Values as found; undefined when absent. */
  values: Partial<Record<Field, string>>;
  /** What each value is called where it was found (a variable, a JSON field), for messages. */
  names: Record<Field, string>;
  region?: string | undefined;
  edge?: string | undefined;
  /** Problems of the source itself (a byte-order mark, CRLF line endings), found before any value. */
  sourceProblems: string[];
  /** The store's name, when it came from a store (for drift and journal lookups). */
  store?: string;
}

/** The fields an operator supplies for a credential of this type (its optional ones are rotator's to write). */
export function fieldsOf(type: CredentialTypeDefinition): Field[] {
  return type.fields.filter((field) => field.optional !== true).map((field) => field.key);
}

/** What doctor calls a credential of this type: "API key", "Auth Token". */
export function titleOf(type: CredentialTypeDefinition): string {
  return type.doctor?.title ?? type.labels.long;
}

/**
 * The credentials a set of variables holds, by each registered type's variable names (its fields' dotenv names):
 * one of a type when a variable of its own (beside the account SID) is set, so both an API key and an Auth Token
 * when both are (an app may use either); and, when no type's own variable is set at all, the account's token
 * (a type that is the account's own token) to complain about.
 */
export function candidatesFromVariables(
  variables: Readonly<Record<string, string | undefined>>,
  where: string,
  sourceProblems: string[] = [],
): Candidate[] {
  const get = (name: string) => variables[name];
  const base = {
    region: nonEmpty(get(VARIABLES.region)),
    edge: nonEmpty(get(VARIABLES.edge)),
    sourceProblems,
  };
  const candidateOf = (type: CredentialTypeDefinition): Candidate => {
    const fields = type.fields.filter((field) => fieldsOf(type).includes(field.key));
    return {
      ...base,
      subject: `${where} (${titleOf(type)})`,
      kind: type.type,
      names: Object.fromEntries(fields.map((field) => [field.key, field.dotenv])),
      values: defined(Object.fromEntries(fields.map((field) => [field.key, get(field.dotenv)]))),
    };
  };
  const types = registeredCredentialTypes();
  const found = types.filter((type) =>
    type.fields.some(
      (field) => field.key !== "accountSid" && field.optional !== true && get(field.dotenv) !== undefined,
    ),
  );
  return (found.length > 0 ? found : types.filter((type) => type.accountToken)).map(candidateOf);
}

/** An env file, read as rotator's dotenv store and the `dotenv` package read it, plus what a shell would trip on. */
export async function candidatesFromEnvFile(path: string, env: Readonly<Record<string, string | undefined>>) {
  const bytes = await readFile(path);
  const problems: string[] = [];
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    problems.push(
      "starts with a byte-order mark: a shell sourcing it, systemd's EnvironmentFile= and docker --env-file read the first variable under another name",
    );
  }
  if (bytes.includes(0x0d)) {
    problems.push(
      "has Windows line endings (CRLF): a shell sourcing it keeps a carriage return at the end of every value",
    );
  }
  const values = Object.fromEntries(dotenvValues(bytes));
  // TWILIO_REGION / TWILIO_EDGE may come from the process environment, as the helper libraries read them.
  const variables = {
    [VARIABLES.region]: env[VARIABLES.region],
    [VARIABLES.edge]: env[VARIABLES.edge],
    ...values,
  };
  return candidatesFromVariables(variables, `env file ${path}`, problems);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function defined(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
