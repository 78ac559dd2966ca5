/** Zod pieces every store entry shares, and the `{ env: NAME }` reference used for anything secret. */
import { z } from "zod";

// Spelled out A-Za-z rather than an `i` flag: the generated JSON Schema keeps the pattern but drops flags.
export const storeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "use letters, digits, '-' or '_' (at most 63 characters)")
  .describe("A short name for this store, used in messages, the journal and --json output.");

export const fieldNamesSchema = z
  .strictObject({
    accountSid: z.string().min(1).optional(),
    apiKeySid: z.string().min(1).optional(),
    apiKeySecret: z.string().min(1).optional(),
    authToken: z.string().min(1).optional(),
  })
  .describe("Names of the fields (or variables) the credential is stored under, if not the defaults.");

/** A reference to a secret that lives outside the config; secret values never appear in config. */
export const envReference = z
  .strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name") })
  .describe("Read the value from this environment variable.");

export type EnvReference = z.infer<typeof envReference>;

/** The fields every store entry has; a provider extends this with its own and a literal `type`. */
export const storeEntryBase = {
  name: storeName,
  fields: fieldNamesSchema.optional(),
};
