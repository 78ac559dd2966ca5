import { defineProvider } from "../definition.js";
import { awsSecretsManagerConfigSchema, regionOfArn } from "./schema.js";

export const awsSecretsManager = defineProvider({
  type: "aws-secrets-manager",
  configSchema: awsSecretsManagerConfigSchema,
  summary:
    "An AWS Secrets Manager secret holding the credential as JSON; the new value is staged as AWSPENDING, read " +
    "back, then made AWSCURRENT.",
  packages: ["@aws-sdk/client-secrets-manager"],
  // The provider (and its SDK) loads only when a config names this type: `rotator --help` and a
  // dotenv-only rotation never pay for SDKs they do not use.
  load: async () => {
    const { AwsSecretsManagerProvider } = await import("./provider.js");
    return (config, environment) => new AwsSecretsManagerProvider(config, environment);
  },
  // rotator 0.1 made the region explicit.
  legacyDescription: (config) => {
    const region = config.region ?? regionOfArn(config.secretId) ?? "the default region";
    const endpoint = config.endpoint === undefined ? "" : `, endpoint ${config.endpoint.replace(/\/+$/, "")}`;
    return `AWS Secrets Manager secret ${config.secretId} (${region}${endpoint})`;
  },
});
