/**
 * moto_server: the AWS Secrets Manager API, plain HTTP, installed by scripts/servers/install.sh (part `aws`) into
 * the cache's Python venv. Everything is in memory: a restart comes back empty.
 */

import { join } from "node:path";
import { SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import { CACHE_DIR, HOST, httpOk, launch, type ServerDefinition, waitReady } from "./process.js";

export interface AwsEndpoints {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const AWS_REGION = "us-east-1";
// moto accepts any credentials; fixed values keep requests signed like real AWS ones.
const AWS_ACCESS_KEY_ID = "testing";
const AWS_SECRET_ACCESS_KEY = "testing";

export const awsServer: ServerDefinition<AwsEndpoints> = {
  name: "aws",
  summary: "moto_server (AWS Secrets Manager API)",
  neededBy: ["aws-secrets-manager"],
  portCount: 1,
  create: () => ({
    launch({ main }) {
      // PYTHONUNBUFFERED: the log shows each request as it happens, not when a buffer fills.
      return launch("aws", main, join(CACHE_DIR, "venv/bin/moto_server"), ["-H", HOST, "-p", String(main)], {
        PYTHONUNBUFFERED: "1",
      });
    },
    ready({ main }, started) {
      return waitReady("aws", started, () => httpOk(`http://${HOST}:${main}/moto-api/`), 30_000, 100);
    },
    async endpoints({ main }) {
      return {
        endpoint: `http://${HOST}:${main}`,
        region: AWS_REGION,
        accessKeyId: AWS_ACCESS_KEY_ID,
        secretAccessKey: AWS_SECRET_ACCESS_KEY,
      };
    },
  }),
};

/** Secrets Manager client for moto. `overrides` e.g. `{ maxAttempts: 1 }` for fast-failing outage tests. */
export function awsClient(
  endpoints: { aws: AwsEndpoints },
  overrides: Partial<SecretsManagerClientConfig> = {},
): SecretsManagerClient {
  const { endpoint, region, accessKeyId, secretAccessKey } = endpoints.aws;
  return new SecretsManagerClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey }, ...overrides });
}
