/**
 * Why the admin credential's check (fetching the account it manages) failed, as preflight says it for
 * every credential type: a 20003 with its likely causes, an account Twilio does not know, or Twilio
 * unreachable.
 */
import { errorMessage, PreflightError } from "../errors.js";
import { isTwilioApiError } from "../twilio/client.js";
import { type AdminCredentialShape, diagnoseAdmin20003 } from "../twilio/diagnose.js";
import { is20003 } from "./polling.js";

export function adminCheckFailure(error: unknown, admin: AdminCredentialShape, accountSid: string): PreflightError {
  if (is20003(error)) {
    return new PreflightError([
      `the admin credential does not authenticate with Twilio (HTTP 401, error 20003). Likely causes:\n      * ${diagnoseAdmin20003(admin).join("\n      * ")}`,
    ]);
  }
  if (isTwilioApiError(error) && error.status === 404) {
    return new PreflightError([`twilio.accountSid: Twilio knows no account ${accountSid} (HTTP 404)`]);
  }
  return new PreflightError([`could not reach Twilio to check the admin credential: ${errorMessage(error)}`]);
}
