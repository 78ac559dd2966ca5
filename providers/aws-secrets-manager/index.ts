import { defineProvider } from "../definition.js";
import { AwsSecretsManagerProvider } from "./provider.js";
import { awsSecretsManagerConfigSchema } from "./schema.js";

export const awsSecretsManager = defineProvider({
  type: "aws-secrets-manager",
  configSchema: awsSecretsManagerConfigSchema,
  summary:
    "An AWS Secrets Manager secret holding the credential as JSON; the new value is staged as AWSPENDING, read " +
    "back, then made AWSCURRENT.",
  create: (config, environment) => new AwsSecretsManagerProvider(config, environment),
});
