/**
 * Zod pieces every store entry shares, the `{ env: NAME }` reference used for anything secret, and the one
 * URL piece every URL in the config uses.
 */
import * as z from "zod";
import { registeredCredentialTypes } from "../src/credentials/registry.js";

// Spelled out A-Za-z rather than an `i` flag: the generated JSON Schema keeps the pattern but drops flags.
export const storeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "use letters, digits, '-' or '_' (at most 63 characters)")
  .describe("A short name for this store, used in messages, the journal and --json output.");

/**
 * A store entry's `fields:`: a name for any field of a registered credential type (its key, as the type's
 * definition lists it), validated by `name`. Built when the providers' schemas load, from the credential types
 * registered by then (a plug-in registers before the config is loaded).
 */
export function fieldNamesFor<Name extends z.ZodType>(name: Name) {
  const keys = [...new Set(registeredCredentialTypes().flatMap((type) => type.fields.map((field) => field.key)))];
  return z.strictObject(Object.fromEntries(keys.map((key) => [key, name.optional()])));
}

export const fieldNamesSchema = fieldNamesFor(z.string().min(1)).describe(
  "Names of the fields (or variables) the credential is stored under, if not the defaults.",
);

/**
 * A run of 32+ letters and digits: the shape of Twilio tokens and key secrets (and most API tokens). Such a
 * text given where a name belongs is a pasted secret, and is refused without being echoed.
 */
const SECRET_SHAPED = /[A-Za-z0-9]{32,}/;

const environmentVariableName = z
  .string()
  .refine((name) => !SECRET_SHAPED.test(name), {
    message:
      "looks like a secret value, not a variable name: put the value in an environment variable and name the " +
      "variable here (secret values never go in the config)",
    abort: true,
  })
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    "must be an environment variable name (letters, digits and _, not starting with a digit)",
  );

/**
 * A reference to a secret that lives outside the config (`{ env: NAME }`); secret values never appear in
 * config. A value given in its place is reported as such, with the fix, and never quoted: `example` names the
 * usual variable, `what` the secret ("the token").
 */
export function envReferenceFor(options: { example?: string; what?: string } = {}) {
  const example = `{ env: ${options.example ?? "NAME"} }`;
  const what = options.what ?? "the secret value";
  return z
    .strictObject(
      { env: environmentVariableName },
      {
        error: (issue) => {
          if (issue.code !== "invalid_type") return undefined;
          if (issue.input === undefined) return `missing: a reference such as ${example} is required`;
          if (typeof issue.input === "object" && issue.input !== null) return `must be a reference such as ${example}`;
          return (
            `must be a reference such as ${example}, not ${what} itself (secret values never go in the config); ` +
            "move the value to an environment variable and name the variable here"
          );
        },
      },
    )
    .describe("Read the value from this environment variable.");
}

export const envReference = envReferenceFor();

export type EnvReference = z.infer<typeof envReference>;

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

/**
 * An http(s) URL in the config. Never with a user name or password in it (`http://user:pass@host`): that is
 * a secret in the config, and the URL would be printed in progress and journaled. Error messages never quote
 * the URL, so the password is not echoed either.
 *
 * - `origin`: scheme, host and port only (a base URL to which rotator adds API paths itself).
 * - `noQuery`: a path is allowed, a query or fragment is not (an endpoint or server address).
 */
export function httpUrl(options: {
  example: string;
  shape: "origin" | "noQuery" | "any";
  /** How to pass a credential instead, for the userinfo message. */
  credentialsInstead?: string;
}) {
  return z
    .url({ protocol: /^https?$/, error: `must be an http:// or https:// URL such as ${options.example}` })
    .superRefine((value, context) => {
      if (!URL.canParse(value)) return;
      const url = new URL(value);
      if (url.username !== "" || url.password !== "") {
        context.addIssue({
          code: "custom",
          message:
            "must not hold a user name or password (user:password@): secret values never go in the config; " +
            `remove them${options.credentialsInstead ? ` (${options.credentialsInstead})` : ""}, and change that ` +
            "password if this file was shared",
        });
      }
      const queryOrFragment = url.search !== "" || url.hash !== "" || /[?#]/.test(value);
      if (options.shape === "origin" && (url.pathname !== "/" || queryOrFragment)) {
        context.addIssue({
          code: "custom",
          message:
            `must be an origin such as ${options.example}: scheme, host and port, with no path, query or ` +
            "fragment (rotator adds the API paths itself)",
        });
      } else if (options.shape === "noQuery" && queryOrFragment) {
        context.addIssue({
          code: "custom",
          message: `must not have a query (?…) or fragment (#…); give it as ${options.example}`,
        });
      }
    });
}
