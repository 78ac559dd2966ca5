/**
 * Restricted-key policies, in the form Twilio's iam v1 spec shows: the `Policy` form field is a JSON string
 * `{"allow":["/twilio/messaging/messages/read", ...]}`, at most 100 permissions per key. A request made with
 * a restricted key succeeds only if its operation's permission is in `allow`; anything else is refused the
 * way Twilio documents it, as unauthorized (401, 20003).
 */
import * as z from "zod";
import { badParameter } from "./errors.js";

/** Twilio's documented limit of permissions per restricted key. */
export const MAX_PERMISSIONS = 100;

const permission = z
  .string()
  .regex(/^\/twilio(\/[a-z0-9_-]+){2,}$/i, "a permission looks like /twilio/messaging/messages/read");

const policySchema = z.strictObject({
  allow: z.array(permission).min(1).max(MAX_PERMISSIONS, `at most ${MAX_PERMISSIONS} permissions`),
});

export type KeyPolicy = z.infer<typeof policySchema>;

/** Parses the `Policy` form field; a malformed policy is a 400 (20001) naming what is wrong. */
export function parsePolicy(raw: string): KeyPolicy {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw badParameter("Invalid value for Policy in the post body: not valid JSON");
  }
  const result = policySchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const at = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw badParameter(`Invalid value for Policy in the post body${at}: ${issue?.message ?? "invalid"}`);
  }
  return { allow: [...new Set(result.data.allow)] };
}

export function allows(policy: KeyPolicy, needed: string): boolean {
  return policy.allow.includes(needed);
}
