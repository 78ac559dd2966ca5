/**
 * An Azure Key Vault store for the e2e tests, on the harness's shared Key Vault test server: a secret of its own
 * holding the seeded key as JSON, and an application of its own (so taking its permissions away breaks only this
 * store). The CLI and consumer processes reach the server over HTTPS trusting its CA through NODE_EXTRA_CA_CERTS,
 * as a private CA is trusted in production; verification is never turned off.
 */
import { randomBytes } from "node:crypto";
import type { SecretClient } from "@azure/keyvault-secrets";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { newClientSecret } from "../../src/keyvault-emulator/auth/clients.js";
import { azureSecretClient, type ServerEndpoints } from "../harness/servers.js";

export const AZURE_SECRET_VARIABLE = "TEST_AZURE_CLIENT_SECRET";

export interface AzureStore {
  secretName: string;
  clientId: string;
  clientSecret: string;
  /** The store entry for a config (`stores[]`), as an object; JSON is valid YAML flow syntax. */
  entry: Record<string, unknown>;
  /** What a process using this store needs in its environment. */
  env: Record<string, string>;
  /** The latest version as readers see it, read through the SDK (not through rotator). */
  state(): Promise<{ value: Record<string, unknown>; version: string; tags: Record<string, string> }>;
  /** Count of versions, read through the SDK. */
  versionCount(): Promise<number>;
  /** The application loses the set permission (its role assignment removed); returns the undo. */
  breakWrites(): Promise<() => Promise<void>>;
}

export async function makeAzureStore(
  servers: Pick<ServerEndpoints, "azure">,
  value: Record<string, unknown>,
  name = "azure",
): Promise<AzureStore> {
  const { azure } = servers;
  const admin = keyVaultAdmin(azure.vaultUrl, azure.caPem);
  const clientSecret = newClientSecret();
  const { clientId } = await admin.addClient({ clientSecret, permissions: ["get", "list", "set"] });
  const secretName = `e2e-twilio-${randomBytes(5).toString("hex")}`;
  const client: SecretClient = azureSecretClient(servers);
  await client.setSecret(secretName, JSON.stringify(value), {
    contentType: "application/json",
    tags: { owner: "e2e" },
  });
  return {
    secretName,
    clientId,
    clientSecret,
    entry: {
      name,
      type: "azure-key-vault",
      vaultUrl: azure.vaultUrl,
      secretName,
      auth: {
        method: "client-secret",
        tenantId: azure.tenantId,
        clientId,
        clientSecret: { env: AZURE_SECRET_VARIABLE },
        authorityHost: azure.authorityHost,
      },
      // The challenge names https://vault.azure.net; the test server is on 127.0.0.1.
      disableChallengeResourceVerification: true,
    },
    env: { [AZURE_SECRET_VARIABLE]: clientSecret, NODE_EXTRA_CA_CERTS: azure.caFile },
    async state() {
      const latest = await client.getSecret(secretName);
      return {
        value: JSON.parse(latest.value ?? "null") as Record<string, unknown>,
        version: latest.properties.version ?? "",
        tags: latest.properties.tags ?? {},
      };
    },
    async versionCount() {
      let count = 0;
      for await (const _ of client.listPropertiesOfSecretVersions(secretName)) count++;
      return count;
    },
    async breakWrites() {
      await admin.setPermissions(clientId, ["get", "list"]);
      return () => admin.setPermissions(clientId, ["get", "list", "set"]);
    },
  };
}
