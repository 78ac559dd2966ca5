/**
 * The lifecycle the Key Vault server's own tests share: one server per test file, SecretClients and
 * ClientSecretCredentials from the official SDK pointed at it (TLS verified against the server's CA), and every
 * response any client received in a test held to the spec once the test ends (contract.ts).
 */
import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import {
  type KeyVaultServer,
  type KeyVaultServerOptions,
  startKeyVaultServer,
} from "../../../src/keyvault-emulator/server.js";
import { type Exchange, KeyVaultContract } from "./contract.js";

export const contract = new KeyVaultContract();

export interface ServerFixture {
  readonly server: KeyVaultServer;
  /** Every exchange of the current test, as the SDK saw it. */
  readonly exchanges: Exchange[];
  /** A credential for an application of the server (default: its all-permission client). */
  credential(clientId?: string, clientSecret?: string): ClientSecretCredential;
  /** A SecretClient whose every exchange is recorded and checked against the spec. */
  secretClient(options?: { credential?: TokenCredential } & SecretClientOptions): SecretClient;
  /** A unique secret name for one test. */
  name(prefix?: string): string;
}

export function useKeyVaultServer(options: KeyVaultServerOptions = {}): ServerFixture {
  let server: KeyVaultServer | undefined;
  const exchanges: Exchange[] = [];
  let counter = 0;
  beforeAll(async () => {
    server = await startKeyVaultServer(options);
  });
  afterAll(async () => {
    await server?.close();
  });
  // A test that asserts nothing proves nothing.
  beforeEach(() => {
    expect.hasAssertions();
  });
  afterEach(() => {
    const recorded = exchanges.splice(0);
    for (const exchange of recorded) contract.assertConforms(exchange);
  });
  const fixture: ServerFixture = {
    get server() {
      if (server === undefined) throw new Error("the server starts in beforeAll");
      return server;
    },
    exchanges,
    credential(clientId, clientSecret) {
      const s = fixture.server;
      return new ClientSecretCredential(
        s.tenantId,
        clientId ?? s.client.clientId,
        clientSecret ??
          (clientId === undefined ? s.client.clientSecret : (s.clients.get(clientId)?.clientSecret ?? "")),
        { authorityHost: s.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: s.caPem } },
      );
    },
    secretClient({ credential, ...clientOptions } = {}) {
      const s = fixture.server;
      return new SecretClient(s.vaultUrl, credential ?? fixture.credential(), {
        // The challenge names https://vault.azure.net; the vault is on 127.0.0.1.
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: s.caPem },
        ...clientOptions,
        additionalPolicies: [
          ...(clientOptions.additionalPolicies ?? []),
          {
            position: "perRetry",
            policy: {
              name: "recordExchanges",
              async sendRequest(request, next) {
                const response = await next(request);
                exchanges.push({
                  method: request.method,
                  url: new URL(request.url),
                  status: response.status,
                  headers: response.headers.toJSON(),
                  bodyText: response.bodyAsText ?? "",
                });
                return response;
              },
            },
          },
        ],
      });
    },
    name(prefix = "secret") {
      counter += 1;
      return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
    },
  };
  return fixture;
}
