/**
 * The choices the emulator makes where Twilio's documentation is silent or contradicts itself. Each has a
 * default that follows the nearest documented statement; tests flip them to check that the engine copes
 * with either answer (twilio-api.md: "unconfirmed ... make them configurable in the emulator").
 */
import * as z from "zod";

export const behaviourSchema = z.strictObject({
  /**
   * POST /v1/AuthTokens/Secondary while the account already has a secondary token. Twilio documents one
   * secondary at a time but not this request (https://www.twilio.com/docs/iam/api/secondary_authtoken).
   * `replace` (default): a new secondary replaces the old one, which stops at once. `reject`: 400 (20001)
   * and nothing changes.
   */
  secondaryTokenWhenExists: z.enum(["replace", "reject"]).default("replace"),
  /**
   * Valid credentials of a suspended or closed account (or of a subaccount whose parent is). Twilio lists
   * "Account is suspended or closed" among the causes of 20003 (https://www.twilio.com/docs/errors/20003),
   * the default; `20005` answers 403 "Account not active" (https://www.twilio.com/docs/api/errors/20005).
   */
  inactiveAccount: z.enum(["20003", "20005"]).default("20003"),
  /**
   * Whether the parent's Main keys reach its subaccounts' v2010 resources. Twilio's CLI docs say a Main key
   * (or the parent's SID and token) is how to work with subaccounts
   * (https://www.twilio.com/docs/twilio-cli/general-usage/subaccounts), the default; copies of Twilio's
   * subaccount page say "Main account API Keys are only available to access main account resources", so
   * `false` refuses them (20003). The parent's Standard and Restricted keys never reach a subaccount.
   */
  parentMainKeysOnSubaccounts: z.boolean().default(true),
  /**
   * Whether parent credentials reach subaccount resources outside api v2010 (iam v1 Keys). Twilio grants
   * the main account's credentials "v2010 API resources for any of your subaccounts"
   * (https://www.twilio.com/docs/iam/api/subaccounts) and says other hosts need the subaccount's own
   * credentials, so the default is `false` (20003).
   */
  parentCredentialsBeyondV2010: z.boolean().default(false),
});

export type EmulatorBehaviour = z.output<typeof behaviourSchema>;
export type EmulatorBehaviourInput = z.input<typeof behaviourSchema>;

export function parseBehaviour(input: EmulatorBehaviourInput | undefined): EmulatorBehaviour {
  const parsed = behaviourSchema.safeParse(input ?? {});
  if (!parsed.success) throw new Error(`twilio emulator: invalid behaviour: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
