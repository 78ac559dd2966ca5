import { defineCredentialType } from "../definition.js";
import { AUTH_TOKEN_LABELS } from "./labels.js";
import { authTokenConfigSchema } from "./schema.js";

export const authToken = defineCredentialType({
  type: "auth-token",
  configSchema: authTokenConfigSchema,
  labels: AUTH_TOKEN_LABELS,
  summary:
    "The account's Auth Token: a secondary token is written everywhere and promoted only once every consumer uses it.",
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
