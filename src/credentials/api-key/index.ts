import { maskSid } from "../../util/mask.js";
import { ACCOUNT_SID_FIELD, defineCredentialType } from "../definition.js";
import { apiKeyOf } from "./credential.js";
import { API_KEY_LABELS } from "./labels.js";
import { apiKeyConfigSchema, DEFAULT_KEY_VERIFY_PATH } from "./schema.js";

export const apiKey = defineCredentialType({
  type: "api-key",
  configSchema: apiKeyConfigSchema,
  labels: API_KEY_LABELS,
  summary: "A Twilio API key (standard or restricted): created new, the old one deleted once nothing uses it.",
  // The JSON names are AWS Secrets Manager's for its Twilio secret type; the variables the Twilio SDKs' own.
  fields: [
    ACCOUNT_SID_FIELD,
    {
      key: "apiKeySid",
      secret: false,
      json: "apiKeySid",
      dotenv: "TWILIO_API_KEY",
      about: "the key's SID",
      shape: "key-sid",
    },
    {
      key: "apiKeySecret",
      secret: true,
      json: "apiKeySecret",
      dotenv: "TWILIO_API_SECRET",
      about: "the key's secret",
      shape: "key-secret",
    },
  ],
  doctor: { title: "API key", needs: "an API key needs the account SID, the key SID and its secret" },
  id: (credential) => apiKeyOf(credential).apiKeySid,
  consumerStatus: { statusField: "keySid", expectedVariable: "ROTATOR_EXPECTED_KEY_SID" },
  describe: (credential) => `API key ${maskSid(apiKeyOf(credential).apiKeySid)}`,
  twilioLogin: (credential) => {
    const key = apiKeyOf(credential);
    return { username: key.apiKeySid, password: key.apiKeySecret };
  },
  accountToken: false,
  supplied: {
    valueWord: "secret",
    takesKeySid: true,
    build: (accountSid, value, keySid) =>
      keySid === undefined || !/^SK[0-9a-f]{32}$/i.test(keySid)
        ? "--from-env with an api-key config needs --key-sid SK… (the key whose secret the variable holds)"
        : { kind: "api-key", accountSid, apiKeySid: `SK${keySid.slice(2).toLowerCase()}`, apiKeySecret: value },
  },
  lost: {
    cause: "someone deleted it",
    syncVariable: "NEW_TWILIO_API_SECRET",
    syncHintTail: " --key-sid SK… (a key that works)",
  },
  runFacts: (config) => ({ keyType: apiKeyConfigSchema.parse(config).keyType }),
  defaultVerifyPath: DEFAULT_KEY_VERIFY_PATH,
  init: {
    admin: () => `  # What rotator creates and deletes keys with: the Auth Token, or a Main API key
  # ({ apiKeySid: SK..., apiKeySecret: { env: NAME } }). A Standard key may not manage keys.
  admin: { authToken: { env: TWILIO_AUTH_TOKEN } }`,
    section: `credential:
  type: api-key # a Standard key (keyType: restricted, with a policy, for a Restricted one)
  friendlyNamePrefix: rotator # new keys are named rotator-<run id>
  maxAgeDays: 90 # \`rotate --if-due\` rotates only an older key`,
    fieldsExample: "apiKeySid: TWILIO_API_KEY_SID",
  },
  fleetProblem: (config) =>
    apiKeyConfigSchema.parse(config).keyType === "restricted"
      ? {
          path: ["keyType"],
          message:
            "a fleet makes standard keys: the parent's credential reaches a subaccount's keys on api v2010 only, and restricted keys are made on iam v1",
        }
      : undefined,
  // The issuer (and the Twilio SDK) loads only when a command talks to Twilio.
  load: async () => {
    const { ApiKeyIssuer } = await import("./issuer.js");
    return (config, environment) =>
      new ApiKeyIssuer({
        admin: environment.admin,
        baseUrl: environment.baseUrl,
        keyType: config.keyType,
        policy: config.policy,
        friendlyNamePrefix: config.friendlyNamePrefix,
        verifyPath: config.verifyPath,
        propagationTimeoutMs: environment.propagationTimeoutMs,
        revokeConfirmTimeoutMs: environment.revokeConfirmTimeoutMs,
        ...(environment.onRetry === undefined ? {} : { onRetry: environment.onRetry }),
        ...(environment.throttle === undefined ? {} : { throttle: environment.throttle }),
        ...(environment.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: environment.requestTimeoutMs }),
      });
  },
});
