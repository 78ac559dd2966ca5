/**
 * How a store provider maps a credential to the names it is stored under, and back, without knowing what its
 * fields mean: the credential type's layout (contract.ts) lists them, with their default names for stores of
 * JSON objects (AWS Secrets Manager's own field names for Twilio secrets) and for stores of environment variables
 * (the Twilio SDKs' conventional variables); a store entry's `fields:` renames any of them.
 */
import type { CredentialLayout, StoredCredential } from "./contract.js";

/** Which default names a store uses: `json` objects and maps, or `dotenv` environment variables. */
export type FieldStyle = "json" | "dotenv";

/** A store entry's `fields:` as Zod infers it: a name for some field keys, undefined for the rest. */
export type FieldOverrides = { readonly [key: string]: string | undefined } | undefined;

/** A credential's fields as one store names them. */
export class StoredFields {
  readonly #layout: CredentialLayout;
  /** Field key → the name this store keeps it under. */
  readonly #names: ReadonlyMap<string, string>;

  constructor(layout: CredentialLayout, style: FieldStyle, overrides: FieldOverrides) {
    this.#layout = layout;
    this.#names = new Map(layout.fields.map((field) => [field.key, overrides?.[field.key] ?? field[style]]));
  }

  /** The credential type this store holds. */
  get type(): string {
    return this.#layout.type;
  }

  /** The names the credential is stored under, in the order messages list them. */
  get names(): string[] {
    return [...this.#names.values()];
  }

  /** The credential's id (contract.ts, CredentialLayout.id). */
  idOf(credential: StoredCredential): string {
    return this.#layout.id(credential);
  }

  /**
   * What tells one write of a run from another in a store's own markers (an AWS version id, a Key Vault tag): the
   * credential's id, and the optional fields it carries. An Auth Token rotation writes one token twice, with its
   * previous token and then without; a credential with no optional field keeps its plain id, as before.
   */
  writeKey(credential: StoredCredential): string {
    const carried = this.#layout.fields
      .filter((field) => field.optional === true && credential[field.key] !== undefined)
      .map((field) => field.key);
    const id = this.#layout.id(credential);
    return carried.length === 0 ? id : [id, ...carried].join("+");
  }

  /**
   * Every write key a credential of this id may have (the id alone, then with each combination of optional
   * fields): what a rollback looks for when it does not know the whole credential the run wrote.
   */
  possibleWriteKeys(id: string): string[] {
    const optional = this.#layout.fields.filter((field) => field.optional === true).map((field) => field.key);
    let combinations: string[][] = [[]];
    for (const key of optional) combinations = combinations.concat(combinations.map((set) => [...set, key]));
    return combinations.map((set) => [id, ...set].join("+"));
  }

  /** The credential as name → value, to write (only the fields its type has). */
  toStore(credential: StoredCredential): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, name] of this.#names) {
      const value = credential[key];
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  /**
   * The names of the optional fields the credential lacks: a write of it removes them from the store (a retired
   * previous token must not stay behind beside the credential that replaced it).
   */
  absentNames(credential: StoredCredential): string[] {
    return this.#layout.fields
      .filter((field) => field.optional === true && credential[field.key] === undefined)
      .map((field) => this.#names.get(field.key) as string);
  }

  /**
   * The credential a store's name → value map holds, or undefined if any of its required fields is missing or
   * empty (an optional one missing or empty is left out of the credential).
   */
  fromStore(values: Readonly<Record<string, unknown>>): StoredCredential | undefined {
    const optional = new Set(this.#layout.fields.filter((field) => field.optional === true).map((field) => field.key));
    const fields: Record<string, string> = {};
    for (const [key, name] of this.#names) {
      const value = values[name];
      if (typeof value !== "string" || value.length === 0) {
        if (optional.has(key)) continue;
        return undefined;
      }
      fields[key] = value;
    }
    const { accountSid } = fields;
    return accountSid === undefined ? undefined : { ...fields, kind: this.#layout.type, accountSid };
  }
}

/**
 * Every name each of the layouts' fields is stored under (the defaults of `style` with `overrides`), once per
 * field key: what a store entry's names must keep apart, whichever of the types the run rotates.
 */
export function allFieldNames(
  layouts: readonly CredentialLayout[],
  style: FieldStyle,
  overrides: FieldOverrides,
): Map<string, string> {
  const names = new Map<string, string>();
  for (const field of layouts.flatMap((layout) => layout.fields)) {
    if (!names.has(field.key)) names.set(field.key, overrides?.[field.key] ?? field[style]);
  }
  return names;
}
