/**
 * The shared e2e lifecycle (useE2e) for files whose stores live on the real local servers of the
 * integration globalSetup: AWS Secrets Manager on moto, Vault KV v2 on OpenBao, Azure Key Vault on the
 * project's Key Vault test server. The same end-of-file secret scan (every byte the CLI printed, every
 * journal, every secret the emulator issued, what each workspace's dotenv files hold), with the servers'
 * credentials added to it: a workspace given a server store gets the credentials in its environment, and the
 * unguessable ones (a Vault token a test created, Key Vault client secrets) in its `secrets`, so one that
 * leaks is found too. moto's and the dev Vault's fixed credentials ("testing", "root") are not scanned for:
 * those words occur in any output, and they guard nothing.
 */
import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { inject } from "vitest";
import { awsClient, type ServerEndpoints, vaultClient } from "../harness/servers.js";
import { type AzureStore, makeAzureStore } from "./azure-store.js";
import { type E2e, useE2e, type Workspace } from "./harness.js";

export const VAULT_TOKEN_VARIABLE = "TEST_VAULT_TOKEN";

/** What rotator stores for an API key (the default field names), plus any extra fields a test wants kept. */
export type StoredValue = Record<string, string>;

export interface ServerE2e extends E2e {
  /** The shared servers' endpoints (from the globalSetup). */
  readonly servers: ServerEndpoints;
  /** The workspace's seeded key as a store's JSON value, with `extra` fields beside it. */
  seededValue(ws: Workspace, extra?: StoredValue): StoredValue;
  /**
   * A new AWS secret holding `value`; returns its store entry (named "aws") and its first version. The
   * workspace gets the AWS credentials. `endpoint` defaults to moto's own (a proxy in front of it, say).
   */
  awsStore(
    ws: Workspace,
    value: StoredValue,
    options?: { endpoint?: string },
  ): Promise<{ entry: Record<string, unknown>; secretId: string; versionId: string }>;
  /**
   * A new Vault KV v2 secret (under secret/e2e/) holding `value`; returns its store entry (named "vault"),
   * which authenticates with `token` (default: the server's root token) read from VAULT_TOKEN_VARIABLE.
   */
  vaultStore(
    ws: Workspace,
    value: StoredValue,
    options?: { token?: string },
  ): Promise<{ entry: Record<string, unknown>; path: string }>;
  /** A new Key Vault secret holding `value`, with an application of its own (see azure-store.ts). */
  azureStore(ws: Workspace, value: StoredValue): Promise<AzureStore>;
}

/** Call once at the top level of a file, in place of useE2e. */
export function useServerE2e(): ServerE2e {
  const e2e = useE2e();
  const servers = () => inject("servers");
  const unique = () => randomBytes(4).toString("hex");
  return {
    get emulator() {
      return e2e.emulator;
    },
    get issuedSecrets() {
      return e2e.issuedSecrets;
    },
    get workspaces() {
      return e2e.workspaces;
    },
    workspace: (stores) => e2e.workspace(stores),
    onTeardown: (stop) => e2e.onTeardown(stop),
    get servers() {
      return servers();
    },
    seededValue(ws, extra = {}) {
      return {
        accountSid: ws.twilio.accountSid,
        apiKeySid: ws.seeded.sid,
        apiKeySecret: ws.seeded.secret,
        ...extra,
      };
    },
    async awsStore(ws, value, options = {}) {
      const { aws } = servers();
      const client = awsClient(servers());
      const secretId = `e2e/twilio-${unique()}`;
      try {
        const created = await client.send(
          new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify(value) }),
        );
        Object.assign(ws.env, { AWS_ACCESS_KEY_ID: aws.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.secretAccessKey });
        return {
          entry: {
            name: "aws",
            type: "aws-secrets-manager",
            secretId,
            region: aws.region,
            endpoint: options.endpoint ?? aws.endpoint,
          },
          secretId,
          versionId: created.VersionId!,
        };
      } finally {
        client.destroy();
      }
    },
    async vaultStore(ws, value, options = {}) {
      const { vault } = servers();
      const path = `e2e/twilio-${unique()}`;
      await vaultClient(servers()).write(`secret/data/${path}`, { data: value });
      const token = options.token ?? vault.token;
      ws.env[VAULT_TOKEN_VARIABLE] = token;
      if (options.token !== undefined) ws.secrets.push(options.token);
      return {
        entry: {
          name: "vault",
          type: "vault-kv2",
          address: vault.address,
          mount: "secret",
          path,
          auth: { method: "token", token: { env: VAULT_TOKEN_VARIABLE } },
        },
        path,
      };
    },
    async azureStore(ws, value) {
      const azure = await makeAzureStore(servers(), value);
      ws.secrets.push(azure.clientSecret, servers().azure.clientSecret);
      Object.assign(ws.env, azure.env);
      return azure;
    },
  };
}
