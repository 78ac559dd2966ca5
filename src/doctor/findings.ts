/**
 * What `rotator doctor` reports: one finding per check, each naming the credential it is about (its
 * subject) and, when something is wrong, the cause, the fix in words, and where in the Twilio Console to
 * look. A cause is `certain` when doctor proved it (the credential authenticates in another Region, the key
 * is in the account and the secret is refused, Twilio answered 20008), `likely` when it is the best reading
 * of what doctor could see (Twilio answers every refusal with the same 20003).
 */

export type Certainty = "certain" | "likely";

export interface Cause {
  cause: string;
  fix: string;
  certainty: Certainty;
  /** Where in the Twilio Console to look, e.g. "Account > API keys & tokens". */
  console?: string;
}

export interface Finding {
  /** What was checked, e.g. "account-sid-format", "authenticates", "stores-agree". */
  check: string;
  /** Which credential (or part of the config) it is about, e.g. "environment (API key)", `store "app-1"`. */
  subject: string;
  ok: boolean;
  /** What is wrong (absent when ok); the most certain cause first. */
  cause?: string;
  fix?: string;
  certainty?: Certainty;
  console?: string;
  /** When the cause is only likely: every cause doctor could not rule out, most likely first. */
  alternatives?: Cause[];
  /** What doctor did see, when ok: "authenticates (HTTP 200)". */
  detail?: string;
}

export function passed(check: string, subject: string, detail?: string): Finding {
  return { check, subject, ok: true, ...(detail === undefined ? {} : { detail }) };
}

export function failed(check: string, subject: string, cause: Cause, alternatives?: Cause[]): Finding {
  return {
    check,
    subject,
    ok: false,
    cause: cause.cause,
    fix: cause.fix,
    certainty: cause.certainty,
    ...(cause.console === undefined ? {} : { console: cause.console }),
    ...(alternatives === undefined || alternatives.length === 0 ? {} : { alternatives }),
  };
}

/** Console locations, as Twilio names them (Console > Account > API keys & tokens, and so on). */
export const CONSOLE = {
  keys: "Console > Account > API keys & tokens (pick the Region at the top for regional keys)",
  authTokens: "Console > Account > API keys & tokens > Auth Tokens",
  testCredentials: "Console > Account > API keys & tokens > Test credentials",
  dashboard: "Console dashboard (Account Info: Account SID)",
  subaccounts: "Console > Account > Subaccounts",
  billing: "Console > Account > General settings (account status), and Billing",
} as const;
