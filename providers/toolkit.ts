/**
 * What every store provider needs and none should write again: the error factory, restore-point parsing, the
 * credential-kind check, the field names of a kind, the unique-field-names refinement of a config schema, shell
 * quoting for the commands messages suggest, credential equality, and reading a `{ env: NAME }` reference.
 */
import * as z from "zod";
import type { CredentialKind, RestorePoint, StoredCredential } from "./contract.js";
import { StoreError, type StoreErrorKind } from "./errors.js";
import { type FieldNames, withFieldDefaults } from "./fields.js";
import type { EnvReference } from "./schema-parts.js";

/** Makes the StoreErrors of one store: the message names the store, the underlying error rides along as `cause`. */
export type ErrorFactory = (kind: StoreErrorKind, message: string, cause?: unknown) => StoreError;

export function storeErrors(store: string): ErrorFactory {
  return (kind, message, cause) => new StoreError(kind, store, message, cause === undefined ? undefined : { cause });
}

/**
 * A journaled restore point, parsed with the provider's own schema; a fatal StoreError when it is not one this
 * provider wrote (a journal from another version of rotator, or a config whose store changed type).
 */
export function parseRestorePoint<T>(schema: z.ZodType<T>, restorePoint: RestorePoint, error: ErrorFactory): T {
  const parsed = schema.safeParse(restorePoint);
  if (parsed.success) return parsed.data;
  throw error("fatal", `the restore point is not one this provider wrote (${z.prettifyError(parsed.error)}).`);
}

/** A store holds one kind of credential, the run's: refuse to write another. */
export function assertCredentialKind(next: StoredCredential, kind: CredentialKind, error: ErrorFactory): void {
  if (next.kind !== kind) {
    throw error("fatal", `asked to write a ${next.kind} credential, but this store holds a ${kind}.`);
  }
}

/** The names a credential of this kind is stored under, in the order messages list them. */
export function fieldNamesFor(kind: CredentialKind, names: FieldNames): string[] {
  return kind === "api-key"
    ? [names.accountSid, names.apiKeySid, names.apiKeySecret]
    : [names.accountSid, names.authToken];
}

/**
 * A config schema's refinement: every field of the credential needs a name of its own (the defaults with the
 * entry's overrides), or two would overwrite each other. Use in `.superRefine(...)`; `noun` says what a name is
 * for this store ("key", "variable name").
 */
export function uniqueFieldNames(
  entry: { fields?: { readonly [K in keyof FieldNames]?: string | undefined } | undefined },
  defaults: FieldNames,
  context: z.RefinementCtx,
  noun = "name",
): void {
  const names = Object.values(withFieldDefaults(defaults, entry.fields));
  if (new Set(names).size !== names.length) {
    context.addIssue({
      code: "custom",
      path: ["fields"],
      message: `each field needs its own ${noun} (now: ${names.join(", ")})`,
    });
  }
}

/** A word a POSIX shell takes as it is: quoted only when it has to be. For the commands messages suggest. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@+-][A-Za-z0-9_./:@+=-]*$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Field-by-field equality of two stored credentials (secrets included); two absent ones are equal. */
export function sameCredential(a: StoredCredential | undefined, b: StoredCredential | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind !== b.kind || a.accountSid !== b.accountSid) return false;
  if (a.kind === "api-key" && b.kind === "api-key") {
    return a.apiKeySid === b.apiKeySid && a.apiKeySecret === b.apiKeySecret;
  }
  return a.kind === "auth-token" && b.kind === "auth-token" && a.authToken === b.authToken;
}

/**
 * The value of a `{ env: NAME }` reference, read when it is first needed (a command that never talks to the store
 * does not fail on it); a fatal StoreError naming the variable and where the config names it when it is unset.
 */
export function readEnvReference(
  reference: EnvReference,
  where: string,
  store: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const value = env[reference.env];
  if (value === undefined || value === "") {
    throw new StoreError(
      "fatal",
      store,
      `environment variable ${reference.env} is not set or empty; this store's config names it in ${where}. ` +
        "Set it in the environment rotator runs in.",
    );
  }
  return value;
}
