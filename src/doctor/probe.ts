/**
 * One bounded call with a credential, to learn whether Twilio accepts it: doctor's and watch's only way of
 * asking. An Auth Token fetches its account (what only the token and Main keys may read, and whose answer
 * says the account's status); an API key reads the Messages list (what a Standard key may call), or the
 * config's `credential.verifyPath`. No retries: a 401 is an answer, and a passing fault is reported as one.
 */

import type { StoredCredential } from "../../providers/contract.js";
import { definitionOf } from "../credentials/registry.js";
import { createTwilioClient, isTwilioApiError } from "../twilio/client.js";

export interface Endpoint {
  /** An emulator's origin; undefined for Twilio. */
  baseUrl?: string | undefined;
  region?: string | undefined;
  edge?: string | undefined;
}

export type ProbeOutcome =
  /** Twilio accepted it. */
  | { outcome: "ok"; status: number }
  /** 401 (20003): refused. */
  | { outcome: "refused"; status: 401; code: number | undefined }
  /** 403 20008: test credentials on a live resource. */
  | { outcome: "test-credentials"; status: 403; code: 20008 }
  /** 403 20005: the account is not active. */
  | { outcome: "inactive"; status: 403; code: 20005 }
  /** Another HTTP answer (403 for a restricted key's policy, 404, 5xx): says nothing about the credential. */
  | { outcome: "other"; status: number; code: number | undefined; message: string }
  /** No answer, or the client could not even be built (an account SID it rejects). */
  | { outcome: "unreachable"; message: string };

/** Basic-auth user and password of a stored credential. */
export function basicAuthOf(credential: StoredCredential): { username: string; password: string } {
  return definitionOf(credential).twilioLogin(credential);
}

export interface ProbeOptions extends Endpoint {
  /** The GET to make, `{AccountSid}` filled in; default by kind (see above). */
  path?: string | undefined;
  /** The account named in the path, when not the credential's own (who-owns-this-key questions). */
  pathAccountSid?: string;
  timeoutMs?: number;
}

export async function probeCredential(credential: StoredCredential, options: ProbeOptions = {}): Promise<ProbeOutcome> {
  const { username, password } = basicAuthOf(credential);
  return probeBasic(credential.accountSid, username, password, {
    ...options,
    path: options.path ?? definitionOf(credential).defaultVerifyPath,
  });
}

/** The same, for a Basic-auth pair that is not a stored credential (the admin credential). */
export async function probeBasic(
  accountSid: string,
  username: string,
  password: string,
  options: ProbeOptions & { path: string },
): Promise<ProbeOutcome> {
  try {
    const client = createTwilioClient({
      accountSid,
      username,
      password,
      baseUrl: options.baseUrl,
      region: options.region,
      edge: options.edge,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    const path = options.path.replace("{AccountSid}", options.pathAccountSid ?? accountSid);
    const response = await client.request({ method: "get", uri: `https://api.twilio.com${path}` });
    return { outcome: "ok", status: response.statusCode };
  } catch (error) {
    if (isTwilioApiError(error)) {
      const code = typeof error.code === "number" ? error.code : undefined;
      if (error.status === 401) return { outcome: "refused", status: 401, code };
      if (error.status === 403 && code === 20008) return { outcome: "test-credentials", status: 403, code };
      if (error.status === 403 && code === 20005) return { outcome: "inactive", status: 403, code };
      return { outcome: "other", status: error.status, code, message: error.message };
    }
    return { outcome: "unreachable", message: error instanceof Error ? error.message : String(error) };
  }
}

export function describeOutcome(outcome: ProbeOutcome): string {
  switch (outcome.outcome) {
    case "ok":
      return `authenticates (HTTP ${outcome.status})`;
    case "refused":
      return `refused (HTTP 401, error ${outcome.code ?? 20003})`;
    case "test-credentials":
      return "refused as test credentials (HTTP 403, error 20008)";
    case "inactive":
      return "refused: account not active (HTTP 403, error 20005)";
    case "other":
      return outcome.message;
    case "unreachable":
      return `no answer: ${outcome.message}`;
  }
}
