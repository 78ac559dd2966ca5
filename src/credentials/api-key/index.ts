import { defineCredentialType } from "../definition.js";
import { API_KEY_LABELS } from "./labels.js";
import { apiKeyConfigSchema } from "./schema.js";

export const apiKey = defineCredentialType({
  type: "api-key",
  configSchema: apiKeyConfigSchema,
  labels: API_KEY_LABELS,
  summary: "A Twilio API key (standard or restricted): created new, the old one deleted once nothing uses it.",
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
