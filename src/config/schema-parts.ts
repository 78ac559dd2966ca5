/**
 * Zod pieces the whole config uses: the `{ env: NAME }` reference used for anything secret (stores, the admin
 * credential, state, notifications, consumers), and the one URL piece every URL in the config uses.
 */
import * as z from "zod";

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
