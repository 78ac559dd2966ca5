/**
 * Credentials in provider tests: a credential's id, its fields as a store names them by default or with an
 * entry's overrides, and a provider environment for a credential type, all from the registered types'
 * definitions (src/credentials/), as the engine hands them to providers.
 */

import type { StoredCredential } from "../../providers/contract.js";
import type { ProviderEnvironment } from "../../providers/definition.js";
import { type FieldOverrides, type FieldStyle, StoredFields } from "../../providers/fields.js";
import { storeFieldNames } from "../../providers/toolkit.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";

export { credentialId } from "../../src/credentials/stored.js";

/** A credential type's name (`credential.type`). */
export type CredentialKind = string;

/** Field key → the name a store keeps it under. */
export type FieldNames = Readonly<Record<string, string>>;

/** The default names of every registered type's fields, in stores of JSON objects and of variables. */
export const JSON_FIELD_DEFAULTS: FieldNames = Object.fromEntries(storeFieldNames("json", undefined));
export const DOTENV_FIELD_DEFAULTS: FieldNames = Object.fromEntries(storeFieldNames("dotenv", undefined));

/** `defaults` with the names an entry's `fields:` overrides. */
export function withFieldDefaults(defaults: FieldNames, overrides: FieldOverrides): FieldNames {
  return Object.fromEntries(Object.entries(defaults).map(([key, name]) => [key, overrides?.[key] ?? name]));
}

/** The credential as a store keeps it under `names` (only the fields of its type). */
export function credentialToFields(credential: StoredCredential, names: FieldNames): Record<string, string> {
  const fields = new StoredFields(credentialTypeOf(credential.kind), "json", names);
  return fields.toStore(credential);
}

/** How a store of `style` names a credential type's fields, with an entry's overrides. */
export function storedFields(kind: CredentialKind, style: FieldStyle, overrides?: FieldOverrides): StoredFields {
  return new StoredFields(credentialTypeOf(kind), style, overrides);
}

/** What a provider is made with in the tests: the type's layout, a base directory, an environment. */
export function providerEnvironment(
  kind: CredentialKind,
  baseDir: string,
  env: ProviderEnvironment["env"],
): ProviderEnvironment {
  return { credential: credentialTypeOf(kind), baseDir, env };
}

/** The names a credential of `kind` is stored under (`names` gives every field's), in the order messages list them. */
export function fieldNamesOf(kind: CredentialKind, names: FieldNames): string[] {
  return storedFields(kind, "json", names).names;
}
