import { tokenFingerprint } from "../../../providers/contract.js";
import { ACCOUNT_SID_FIELD, defineCredentialType } from "../definition.js";
import { authTokenOf } from "./credential.js";
import { AUTH_TOKEN_LABELS } from "./labels.js";
import { authTokenConfigSchema, DEFAULT_TOKEN_VERIFY_PATH } from "./schema.js";

export const authToken = defineCredentialType({
  type: "auth-token",
  configSchema: authTokenConfigSchema,
  labels: AUTH_TOKEN_LABELS,
  summary:
    "The account's Auth Token: a secondary token is written everywhere and promoted only once every consumer uses it.",
  fields: [
    ACCOUNT_SID_FIELD,
    {
      key: "authToken",
      secret: true,
      json: "authToken",
      dotenv: "TWILIO_AUTH_TOKEN",
      about: "the Auth Token",
      shape: "account-token",
    },
    // Kept beside the new token while a rotation runs, so apps validate webhooks Twilio signs with either
    // (Twilio signs with the primary, and the promote changes which one that is); retired after the promote.
    {
      key: "previousAuthToken",
      secret: true,
      optional: true,
      json: "previousAuthToken",
      dotenv: "TWILIO_PREVIOUS_AUTH_TOKEN",
      about: "the Auth Token the current one replaces, kept while a rotation runs for validating webhooks",
      shape: "account-token",
    },
  ],
  doctor: { title: "Auth Token", needs: "an Auth Token needs the account SID beside it" },
  // A token has no SID: its fingerprint names it wherever a key's SID would.
  id: (credential) => tokenFingerprint(authTokenOf(credential).authToken),
  consumerStatus: { statusField: "tokenFingerprint", expectedVariable: "ROTATOR_EXPECTED_TOKEN_FINGERPRINT" },
  describe: () => "the auth token",
  twilioLogin: (credential) => ({ username: credential.accountSid, password: authTokenOf(credential).authToken }),
  accountToken: true,
  keepsPrevious: {
    field: "previousAuthToken",
    from: "authToken",
    purpose: "for validating webhooks",
    revokeName: "the promote",
    keepReason: "Twilio may sign webhooks with the old token for a while after it",
    keepSeconds: (config) => authTokenConfigSchema.parse(config).webhookSigningLagSeconds,
    keepSetting: "credential.webhookSigningLagSeconds",
    retiredAtOnceCost: "webhooks Twilio signed with the old token before its propagation ends may be rejected",
  },
  supplied: {
    valueWord: "value",
    takesKeySid: false,
    build: (accountSid, value) => ({ kind: "auth-token", accountSid, authToken: value }),
  },
  lost: {
    cause:
      "the account's secondary token was replaced, deleted or promoted by someone else (another config, state directory or host rotating this account's token, the Console)",
    syncVariable: "NEW_TWILIO_AUTH_TOKEN",
    syncHintTail:
      " (the account's current Auth Token, from Console > Account > API keys & tokens; it is used as the admin credential too)",
  },
  runFacts: () => ({}),
  defaultVerifyPath: DEFAULT_TOKEN_VERIFY_PATH,
  init: {
    admin: (
      firstStore,
    ) => `  # The token being rotated is also the admin: read from a store, so the next run finds the new one
  # ({ env: TWILIO_AUTH_TOKEN } works too, but that variable holds a dead token after a rotation).
  admin: { authToken: { fromStore: ${firstStore} } }`,
    section: `credential:
  type: auth-token # a secondary token, written everywhere, promoted once every consumer uses it
  maxAgeDays: 90 # \`rotate --if-due\` rotates only an older token (its age comes from rotator's journal)`,
    fieldsExample: "authToken: TWILIO_TOKEN",
  },
  fleetProblem: () => ({
    path: ["type"],
    message:
      "a fleet (accounts:) rotates API keys only: Twilio's AuthTokens API acts on the credential's own account, so the parent's credential cannot rotate a subaccount's Auth Token; give each subaccount its own config to rotate its token",
  }),
  load: async () => {
    const { AuthTokenIssuer } = await import("./issuer.js");
    return (config, environment) =>
      new AuthTokenIssuer({
        admin: environment.admin,
        baseUrl: environment.baseUrl,
        verifyPath: config.verifyPath,
        promoteSettleMs: config.promoteSettleSeconds * 1000,
        propagationTimeoutMs: environment.propagationTimeoutMs,
        revokeConfirmTimeoutMs: environment.revokeConfirmTimeoutMs,
        ...(environment.onRetry === undefined ? {} : { onRetry: environment.onRetry }),
        ...(environment.onAdminSwitch === undefined ? {} : { onAdminSwitch: environment.onAdminSwitch }),
        ...(environment.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: environment.requestTimeoutMs }),
      });
  },
});
