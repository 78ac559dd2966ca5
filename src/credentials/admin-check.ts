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
  if (is20003(error) && admin.passwordSource.startsWith("store ")) {
    // fromStore reads the token the stores hold: once that one is dead, the admin is the dead token itself.
    const store = admin.passwordSource.slice("store ".length);
    return new PreflightError([
      `the admin credential is the Auth Token in store ${store} (twilio.admin.authToken.fromStore), and Twilio refuses it (HTTP 401, error 20003): the token the stores hold is dead (promoted in the Console, or reset by Twilio), so fromStore can only hand over that dead token. Give the account's current Auth Token (Console > Account > API keys & tokens): \`rotator sync --from-env NAME\` puts it into every store and uses it as the admin credential; \`rotator rotate --emergency --admin-from-env NAME\` rotates with it as the admin credential`,
    ]);
  }
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
