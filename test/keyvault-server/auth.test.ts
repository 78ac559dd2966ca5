/**
 * Authentication as Key Vault does it, through @azure/identity and @azure/keyvault-secrets: the challenge, the
 * client-credentials flow against the test authority, and the ways a token or a caller is refused.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { describe, expect, it } from "vitest";
import { useKeyVaultServer } from "./helpers/harness.js";

const kv = useKeyVaultServer();

/** A credential handing out a token the test made, claiming (to the SDK) that it is good for an hour. */
function fixedToken(token: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { statusCode?: number; code?: string; message: string };
  }
  throw new Error("expected the call to fail");
}

describe("Key Vault test server: authentication and authorization", () => {
  it("answers a token-less request with the challenge; the SDK fetches a token from the authority and resends", async () => {
    const { server } = kv;
    expect(server.authorityHost).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = kv.secretClient();
    const name = kv.name();
    await client.setSecret(name, "value");
    const [probe, real] = kv.exchanges;
    expect(probe?.status).toBe(401);
    expect(probe?.headers["www-authenticate"]).toBe(
      `Bearer authorization="${server.authorityHost}/${server.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(JSON.parse(probe!.bodyText)).toEqual({
      error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
    });
    expect(real?.status).toBe(200);
    expect(server.tokenRequests.at(-1)).toEqual({
      clientId: server.client.clientId,
      scope: "https://vault.azure.net/.default",
      status: 200,
    });
  });

  it("a wrong client secret gets the authority's invalid_client (AADSTS7000215), and the vault is never asked with a token", async () => {
    const client = kv.secretClient({ credential: kv.credential(kv.server.client.clientId, "not-the-secret-0000") });
    const error = await failure(client.getSecret("anything"));
    expect(error.message).toContain("invalid_client");
    expect(error.message).toContain("AADSTS7000215");
    expect(kv.server.tokenRequests.at(-1)).toMatchObject({ status: 401, error: "invalid_client" });
    expect(kv.exchanges.map((e) => e.status)).toEqual([401]);
  });

  it("an unknown application gets unauthorized_client (AADSTS700016); an unknown tenant has no OpenID configuration", async () => {
    const unknownApp = kv.credential("00000000-0000-4000-8000-000000000001", "whatever-secret-0000");
    const appError = await failure(unknownApp.getToken("https://vault.azure.net/.default"));
    expect(appError.message).toContain("unauthorized_client");
    expect(appError.message).toContain("AADSTS700016");

    const { ClientSecretCredential } = await import("@azure/identity");
    const otherTenant = new ClientSecretCredential(
      "11111111-1111-4111-8111-111111111111",
      kv.server.client.clientId,
      kv.server.client.clientSecret,
      { authorityHost: kv.server.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: kv.server.caPem } },
    );
    // Entra answers 400 invalid_tenant (AADSTS90002) for the OpenID configuration, which MSAL reports as this.
    const tenantError = await failure(otherTenant.getToken("https://vault.azure.net/.default"));
    expect(tenantError.message).toContain("endpoints_resolution_error");
  });

  it("an expired token gets 401, with the challenge", async () => {
    const { server } = kv;
    const expired = server.mintToken({ appid: server.client.clientId, exp: Math.floor(Date.now() / 1000) - 60 });
    const error = await failure(kv.secretClient({ credential: fixedToken(expired) }).getSecret("anything"));
    expect(error).toMatchObject({ statusCode: 401, code: "Unauthorized" });
    expect(error.message).toContain("expired");
    expect(kv.exchanges.at(-1)?.headers["www-authenticate"]).toContain('resource="https://vault.azure.net"');
  });

  it("a token for another resource gets 401 AKV10022, as does one of another tenant (AKV10032) or a forged one", async () => {
    const { server } = kv;
    const real = kv.credential();
    const storage: TokenCredential = {
      getToken: (_scopes, options) => real.getToken("https://storage.azure.com/.default", options),
    };
    const wrongAudience = await failure(kv.secretClient({ credential: storage }).getSecret("anything"));
    expect(wrongAudience).toMatchObject({ statusCode: 401, code: "Unauthorized" });
    expect(wrongAudience.message).toContain(
      "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://storage.azure.com",
    );
    expect(server.tokenRequests.at(-1)).toMatchObject({ scope: "https://storage.azure.com/.default", status: 200 });

    const otherTenant = server.mintToken({
      appid: server.client.clientId,
      tid: "22222222-2222-4222-8222-222222222222",
    });
    const tenantError = await failure(kv.secretClient({ credential: fixedToken(otherTenant) }).getSecret("anything"));
    expect(tenantError.message).toContain("AKV10032");

    const forged = `${otherTenant.split(".").slice(0, 2).join(".")}.${"A".repeat(43)}`;
    const forgedError = await failure(kv.secretClient({ credential: fixedToken(forged) }).getSecret("anything"));
    expect(forgedError).toMatchObject({ statusCode: 401 });
  });

  it("per-client permissions: each operation needs the spec's secrets/<permission>; without it, 403 Forbidden (ForbiddenByRbac)", async () => {
    const { server } = kv;
    const name = kv.name();
    await kv.secretClient().setSecret(name, "seed");
    const reader = server.clients.add({ permissions: ["get"] });
    const client = kv.secretClient({ credential: kv.credential(reader.clientId) });
    expect((await client.getSecret(name)).value).toBe("seed");

    const set = await failure(client.setSecret(name, "nope"));
    expect(set).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect(set.message).toContain("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'");
    expect(set.message).toContain(`appid=${reader.clientId}`);
    const list = await failure(client.listPropertiesOfSecretVersions(name).next());
    expect(list.statusCode).toBe(403);
    expect(kv.exchanges.at(-1)?.bodyText).toContain("secrets/readMetadata/action");
    const remove = await failure(client.beginDeleteSecret(name));
    expect(remove.message).toContain("secrets/delete");
    const forbidden = kv.exchanges.filter((e) => e.status === 403).map((e) => JSON.parse(e.bodyText).error.innererror);
    expect(forbidden).toEqual([{ code: "ForbiddenByRbac" }, { code: "ForbiddenByRbac" }, { code: "ForbiddenByRbac" }]);

    server.clients.setPermissions(reader.clientId, ["list"]);
    expect((await failure(client.getSecret(name))).statusCode).toBe(403);
    expect((await kv.secretClient().getSecret(name)).value).toBe("seed");
  });

  it("TLS is verified: a client that does not trust the server's CA cannot connect", async () => {
    const untrusting = new SecretClient(kv.server.vaultUrl, kv.credential(), {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    const error = await failure(untrusting.getSecret("anything"));
    expect(String((error as { code?: string }).code ?? error.message)).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/,
    );
  });

  it("without disableChallengeResourceVerification the SDK refuses the challenge for a vault on 127.0.0.1", async () => {
    const strict = new SecretClient(kv.server.vaultUrl, kv.credential(), { tlsOptions: { ca: kv.server.caPem } });
    const error = await failure(strict.getSecret("anything"));
    expect(error.message).toContain("does not match the requested domain");
  });
});
