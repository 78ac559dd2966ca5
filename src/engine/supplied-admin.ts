/**
 * A credential the operator supplies through an environment variable (`sync --from-env`, `rotate
 * --admin-from-env`), read without ever echoing it, and, for an Auth Token config, offered to the issuer as
 * the admin credential to go on with when the configured one is refused: with `admin: { authToken: {
 * fromStore } }`, once the stores' token is dead (promoted in the Console, reset by Twilio), the configured
 * admin is that dead token and nothing else could act for the account.
 */

import type { Environment } from "../config/load.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { accountTokenCredential } from "../credentials/stored.js";
import { ExitCode, RotatorError } from "../errors.js";
import { registerSecret } from "../util/mask.js";
import type { EngineContext } from "./context.js";

/** The value of `name`, refused (exit 2) when unset, empty, or wrapped in whitespace. Never printed. */
export function secretFromEnv(env: Environment, name: string, flag: string, what: string): string {
  const value = env[name];
  if (value === undefined || value === "") {
    throw new RotatorError(`${flag}: environment variable ${name} is ${value === undefined ? "not set" : "empty"}`, {
      exitCode: ExitCode.badInput,
      hint: `export ${name} with ${what} first`,
    });
  }
  if (value !== value.trim()) {
    throw new RotatorError(`${flag}: ${name} has leading or trailing whitespace (a stray newline?)`, {
      exitCode: ExitCode.badInput,
      hint: "remove it: stores would get it verbatim, and Twilio would refuse it",
    });
  }
  registerSecret(value);
  return value;
}

/**
 * `rotate --admin-from-env NAME`: the account's current Auth Token, checked with Twilio, stands in for the
 * configured admin credential should Twilio refuse that one. Exit 2 when it is not usable.
 */
export async function adoptAdminFromEnv(
  context: Pick<EngineContext, "issuer" | "env" | "loaded">,
  name: string,
): Promise<void> {
  const accountSid = context.loaded.config.twilio.accountSid;
  if (!credentialTypeOf(context.issuer.kind).accountToken) {
    throw new RotatorError(
      "--admin-from-env is for Auth Token configs, whose admin credential may be the token being rotated",
      {
        exitCode: ExitCode.badInput,
        hint: "for an API-key config, put the working admin credential in the variable twilio.admin names",
      },
    );
  }
  const token = secretFromEnv(context.env, name, "--admin-from-env", "the account's current Auth Token");
  const credential = accountTokenCredential(context.issuer.kind, accountSid, token);
  if (credential === undefined || !(await context.issuer.authenticatesNow(credential))) {
    throw new RotatorError(`--admin-from-env: Twilio refuses the token in ${name} (HTTP 401, error 20003)`, {
      exitCode: ExitCode.badInput,
      hint: "give the account's current Auth Token (Console > Account > API keys & tokens); nothing was changed",
    });
  }
  context.issuer.adoptNew(credential, `the token in env ${name} (--admin-from-env, checked with Twilio)`);
}
