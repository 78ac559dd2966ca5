/**
 * Field names a credential is stored under. The defaults are the ones AWS Secrets Manager uses for its
 * Twilio secret types (JSON stores) and the Twilio SDKs' conventional environment variables (dotenv).
 */
import type { CredentialKind, StoredCredential } from "./contract.js";

export interface FieldNames {
  accountSid: string;
  apiKeySid: string;
  apiKeySecret: string;
  authToken: string;
}

export const JSON_FIELD_DEFAULTS: FieldNames = {
  accountSid: "accountSid",
  apiKeySid: "apiKeySid",
  apiKeySecret: "apiKeySecret",
  authToken: "authToken",
};

export const DOTENV_FIELD_DEFAULTS: FieldNames = {
  accountSid: "TWILIO_ACCOUNT_SID",
  apiKeySid: "TWILIO_API_KEY",
  apiKeySecret: "TWILIO_API_SECRET",
  authToken: "TWILIO_AUTH_TOKEN",
};

/**
 * The defaults with the names a store entry overrides. Accepts what a Zod schema infers for optional fields
 * (`name?: string | undefined`), and skips undefined so it never replaces a default with nothing.
 */
export function withFieldDefaults(
  defaults: FieldNames,
  overrides: { readonly [K in keyof FieldNames]?: string | undefined } | undefined,
): FieldNames {
  const names = { ...defaults };
  for (const key of ["accountSid", "apiKeySid", "apiKeySecret", "authToken"] as const) {
    const name = overrides?.[key];
    if (name !== undefined) names[key] = name;
  }
  return names;
}

/** Flatten a credential to store fields (only the fields its kind uses). */
export function credentialToFields(credential: StoredCredential, names: FieldNames): Record<string, string> {
  if (credential.kind === "api-key") {
    return {
      [names.accountSid]: credential.accountSid,
      [names.apiKeySid]: credential.apiKeySid,
      [names.apiKeySecret]: credential.apiKeySecret,
    };
  }
  return { [names.accountSid]: credential.accountSid, [names.authToken]: credential.authToken };
}

/** Build a credential from store fields, or undefined if any field its kind needs is missing or empty. */
export function fieldsToCredential(
  kind: CredentialKind,
  fields: Readonly<Record<string, unknown>>,
  names: FieldNames,
): StoredCredential | undefined {
  const get = (name: string): string | undefined => {
    const value = fields[name];
    return typeof value === "string" && value.length > 0 ? value : undefined;
  };
  const accountSid = get(names.accountSid);
  if (accountSid === undefined) return undefined;
  if (kind === "api-key") {
    const apiKeySid = get(names.apiKeySid);
    const apiKeySecret = get(names.apiKeySecret);
    if (apiKeySid === undefined || apiKeySecret === undefined) return undefined;
    return { kind, accountSid, apiKeySid, apiKeySecret };
  }
  const authToken = get(names.authToken);
  return authToken === undefined ? undefined : { kind, accountSid, authToken };
}
