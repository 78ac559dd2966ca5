/**
 * Zod pieces every store entry shares: its name, its `fields:` and the base of its schema. The config-wide
 * pieces (the `{ env: NAME }` reference, http(s) URLs) are in src/config/schema-parts.ts.
 */
import * as z from "zod";
import { credentialLayouts } from "./credential-layouts.js";

// Spelled out A-Za-z rather than an `i` flag: the generated JSON Schema keeps the pattern but drops flags.
export const storeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "use letters, digits, '-' or '_' (at most 63 characters)")
  .describe("A short name for this store, used in messages, the journal and --json output.");

/**
 * A store entry's `fields:`: a name for any field of a registered credential type (its key, as the type's
 * layout lists it), validated by `name`, with `description` (which may name the fields' default names). Built
 * lazily, when a config is first parsed or its JSON Schema made, from the types the credential registry has
 * handed the store layer by then (./credential-layouts.ts): so the providers' schemas may load before any type
 * is known, and a plug-in's type registered after import is in it.
 */
export function fieldNamesFor<Name extends z.ZodType>(name: Name, description: () => string) {
  return z.lazy(() => {
    const keys = [...new Set(credentialLayouts().flatMap((layout) => layout.fields.map((field) => field.key)))];
    return z.strictObject(Object.fromEntries(keys.map((key) => [key, name.optional()]))).describe(description());
  });
}

export const fieldNamesSchema = fieldNamesFor(
  z.string().min(1),
  () => "Names of the fields (or variables) the credential is stored under, if not the defaults.",
);

/** The fields every store entry has; a provider extends this with its own and a literal `type`. */
export const storeEntryBase = {
  name: storeName,
  fields: fieldNamesSchema.optional(),
  timeoutSeconds: z
    .number()
    .min(0.1)
    .max(300)
    .optional()
    .describe(
      "How long one call to this store (a read, a write with its read-back and retries, a rollback) may take " +
        "before rotator gives it up and calls the store unreachable. Default 5, or half of state.leaseSeconds " +
        "when that is less; with state on PostgreSQL it may be at most half of state.leaseSeconds.",
    ),
};
