import * as z from "zod";
import { httpUrl } from "../../src/config/schema-parts.js";
import { storeEntryBase } from "../schema-parts.js";
import { uniqueFieldNames } from "../toolkit.js";

/** `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, ... */
const regionName = z
  .string()
  .regex(/^[a-z]{2,}(-[a-z0-9]+)+$/, "must be an AWS region name such as us-east-1")
  .describe("The AWS region of the secret; default: the region in the secret's ARN, else the SDK's default chain.");

/** arn:<partition>:secretsmanager:<region>:<account>:secret:<name> */
const SECRET_ARN = /^arn:[a-z-]+:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+$/;

/** The region in a secret ARN, or undefined for a plain secret name. */
export function regionOfArn(secretId: string): string | undefined {
  return SECRET_ARN.exec(secretId)?.[1];
}

export const awsSecretsManagerConfigSchema = z
  .strictObject({
    ...storeEntryBase,
    type: z.literal("aws-secrets-manager"),
    secretId: z
      .string()
      .min(1)
      .max(2048)
      .describe(
        "The secret's name or ARN. It must exist and hold a JSON object (at least `{}`); rotator keeps every other " +
          "field of that object.",
      ),
    region: regionName.optional(),
    endpoint: httpUrl({ example: "http://127.0.0.1:5000", shape: "noQuery" })
      .optional()
      .describe("A Secrets Manager endpoint other than AWS's, such as a local emulator; default: AWS's."),
  })
  .superRefine((entry, context) => {
    const arnRegion = regionOfArn(entry.secretId);
    if (arnRegion !== undefined && entry.region !== undefined && arnRegion !== entry.region) {
      context.addIssue({
        code: "custom",
        path: ["region"],
        message: `the secret's ARN is in region ${arnRegion}, not ${entry.region}; drop "region" or make them agree`,
      });
    }
    uniqueFieldNames(entry, "json", context);
  })
  .describe(
    "An AWS Secrets Manager secret holding the credential as JSON. The new value is staged as AWSPENDING, read " +
      "back, then made AWSCURRENT; rollback moves AWSCURRENT back to the version from before the run. " +
      "Credentials: the AWS SDK's default chain.",
  );

export type AwsSecretsManagerConfig = z.infer<typeof awsSecretsManagerConfigSchema>;
