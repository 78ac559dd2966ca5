/**
 * Where doctor finds credentials: the environment (as Twilio's helper libraries read it), an env file, or
 * every store of a config. Each becomes a Candidate holding the values exactly as found (stray spaces,
 * quotes and all), so the offline checks can see what an app would be handed.
 */
import { readFile } from "node:fs/promises";
import { dotenvValues } from "../../providers/dotenv-file/index.js";

/** The variables Twilio's helper libraries and rotator's dotenv stores use. */
export const VARIABLES = {
  accountSid: "TWILIO_ACCOUNT_SID",
  authToken: "TWILIO_AUTH_TOKEN",
  apiKeySid: "TWILIO_API_KEY",
  apiKeySecret: "TWILIO_API_SECRET",
  region: "TWILIO_REGION",
  edge: "TWILIO_EDGE",
} as const;

export type Field = "accountSid" | "authToken" | "apiKeySid" | "apiKeySecret";

/** One credential to examine, as found. */
export interface Candidate {
  /** For messages and findings: "environment (API key)", `env file /etc/app/twilio.env (Auth Token)`, `store "app-1"`. */
  subject: string;
  kind: "api-key" | "auth-token";
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

const variableNames: Record<Field, string> = {
  accountSid: VARIABLES.accountSid,
  authToken: VARIABLES.authToken,
  apiKeySid: VARIABLES.apiKeySid,
  apiKeySecret: VARIABLES.apiKeySecret,
};

/**
 * The credentials a set of variables holds: an API key when TWILIO_API_KEY or TWILIO_API_SECRET is set, an
 * Auth Token when TWILIO_AUTH_TOKEN is, both when both are (an app may use either), and an Auth Token to
 * complain about when nothing is set at all.
 */
export function candidatesFromVariables(
  variables: Readonly<Record<string, string | undefined>>,
  where: string,
  sourceProblems: string[] = [],
): Candidate[] {
  const get = (name: string) => variables[name];
  const base = {
    names: variableNames,
    region: nonEmpty(get(VARIABLES.region)),
    edge: nonEmpty(get(VARIABLES.edge)),
    sourceProblems,
  };
  const accountSid = get(VARIABLES.accountSid);
  const hasKey = get(VARIABLES.apiKeySid) !== undefined || get(VARIABLES.apiKeySecret) !== undefined;
  const hasToken = get(VARIABLES.authToken) !== undefined;
  const out: Candidate[] = [];
  if (hasKey) {
    out.push({
      ...base,
      subject: `${where} (API key)`,
      kind: "api-key",
      values: defined({
        accountSid,
        apiKeySid: get(VARIABLES.apiKeySid),
        apiKeySecret: get(VARIABLES.apiKeySecret),
      }),
    });
  }
  if (hasToken || !hasKey) {
    out.push({
      ...base,
      subject: `${where} (Auth Token)`,
      kind: "auth-token",
      values: defined({ accountSid, authToken: get(VARIABLES.authToken) }),
    });
  }
  return out;
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

function defined<T extends Record<string, string | undefined>>(record: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<
    Record<keyof T, string>
  >;
}
