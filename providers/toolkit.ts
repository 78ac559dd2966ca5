/**
 * What every store provider needs and none should write again: the error factory, restore-point parsing, the
 * credential-type check, the unique-field-names refinement of a config schema, shell quoting for the commands
 * messages suggest, credential equality, and reading a `{ env: NAME }` reference.
 */
import * as z from "zod";
import type { EnvReference } from "../src/config/schema-parts.js";
import type { RestorePoint, StoredCredential, UndoContext } from "./contract.js";
import { credentialLayouts } from "./credential-layouts.js";
import { StoreError, type StoreErrorKind } from "./errors.js";
import { allFieldNames, type FieldOverrides, type FieldStyle, type StoredFields } from "./fields.js";

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

/** A store holds one type of credential, the run's: refuse to write another. */
export function assertCredentialKind(next: StoredCredential, type: string, error: ErrorFactory): void {
  if (next.kind !== type) {
    throw error("fatal", `asked to write a ${next.kind} credential, but this store holds a ${type}.`);
  }
}

/**
 * A config schema's refinement: every field of every credential type needs a name of its own (the defaults of the
 * store's `style` with the entry's overrides), or two would overwrite each other. Use in `.superRefine(...)`;
 * `noun` says what a name is for this store ("key", "variable name").
 */
export function uniqueFieldNames(
  entry: { fields?: FieldOverrides },
  style: FieldStyle,
  context: z.RefinementCtx,
  noun = "name",
): void {
  const names = [...storeFieldNames(style, entry.fields).values()];
  if (new Set(names).size !== names.length) {
    context.addIssue({
      code: "custom",
      path: ["fields"],
      message: `each field needs its own ${noun} (now: ${names.join(", ")})`,
    });
  }
}

/** Field key → the name a store entry keeps it under, for every field of every registered credential type. */
export function storeFieldNames(style: FieldStyle, overrides: FieldOverrides): Map<string, string> {
  return allFieldNames(credentialLayouts(), style, overrides);
}

/** A word a POSIX shell takes as it is: quoted only when it has to be. For the commands messages suggest. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@+-][A-Za-z0-9_./:@+=-]*$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Field-by-field equality of two stored credentials (secrets included); two absent ones are equal. */
export function sameCredential(a: StoredCredential | undefined, b: StoredCredential | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}

/**
 * Whether `held` (what a store holds now) is what the run's write being undone put there: every field equal to
 * the written credential when the engine knows it, else (the new secret lost in a crash) the same id.
 */
export function holdsWritten(fields: StoredFields, held: StoredCredential | undefined, ctx: UndoContext): boolean {
  if (held === undefined) return false;
  return ctx.written === undefined ? fields.idOf(held) === ctx.newKeyId : sameCredential(held, ctx.written);
}

/**
 * The write keys (StoredFields.writeKey) the write being undone may have had: its own, when the engine knows what it
 * wrote; else every one a credential of its id may have, the plain id first.
 */
export function undoneWriteKeys(fields: StoredFields, ctx: UndoContext): string[] {
  return ctx.written === undefined ? fields.possibleWriteKeys(ctx.newKeyId) : [fields.writeKey(ctx.written)];
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
