/**
 * The project's Key Vault emulator (src/keyvault-emulator: the Azure Key Vault secrets API and an Entra-shaped
 * authority, HTTPS with a CA it makes at start), as `rotator emulator azure-key-vault` from source. Nothing to
 * install (scripts/servers/install.sh's part `azure` checks for the openssl it makes its certificate with). In
 * memory: a restart comes back empty, with the same CA, credentials and token key.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ClientSecretCredential, type ClientSecretCredentialOptions } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import { keyVaultAdmin } from "../../../src/keyvault-emulator/admin-client.js";
import { newClientSecret } from "../../../src/keyvault-emulator/auth/clients.js";
import { CACHE_DIR, HOST, launch, REPO_ROOT, type ServerDefinition, waitReady } from "./process.js";

/**
 * The vault, its authority (for @azure/identity's `authorityHost`), the tenant, an application with every
 * permission, and the CA to trust explicitly (`tlsOptions.ca` in process, NODE_EXTRA_CA_CERTS=caFile for a child
 * process; never turn verification off).
 */
export interface AzureEndpoints {
  vaultUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caPem: string;
  caFile: string;
}

/** `rotator emulator azure-key-vault`, run from source: the command a user runs, without a build first. */
const ROTATOR_CLI = join(REPO_ROOT, "src/cli/main.ts");
/** tsx's loader by absolute URL: the child runs in the cache directory, where `--import tsx` would not resolve. */
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;

/**
 * The Key Vault test server as a child process (node + tsx), with a tenant, an application, a token signing key
 * and a certificate directory fixed for the life of the handle: a restart after stopOne() comes back empty, on the
 * same ports, with the same CA, credentials and token key, so clients built from the endpoints keep working.
 */
export const azureServer: ServerDefinition<AzureEndpoints> = {
  name: "azure",
  summary: "the project's Key Vault emulator (HTTPS, its own CA)",
  neededBy: ["azure-key-vault"],
  portCount: 2,
  create() {
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const clientSecret = newClientSecret();
    // Kept across restarts, as Entra's keys are across a vault outage: tokens issued before stay good.
    const tokenKey = randomBytes(32).toString("hex");
    // Made at the first launch only.
    let certDir: string | undefined;
    const caFile = () => join(certDir ?? "", "ca.pem");
    return {
      dispose() {
        if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
      },
      launch({ main, second }) {
        if (second === undefined) throw new Error("the Key Vault test server needs a port for its authority");
        if (certDir === undefined) {
          mkdirSync(join(CACHE_DIR, "keyvault"), { recursive: true });
          certDir = mkdtempSync(join(CACHE_DIR, "keyvault", "tls-"));
        }
        return launch(
          "azure",
          main,
          process.execPath,
          [
            "--import",
            TSX_LOADER,
            ROTATOR_CLI,
            "emulator",
            "azure-key-vault",
            `--port=${main}`,
            `--authority-port=${second}`,
            `--cert-dir=${certDir}`,
            `--tenant-id=${tenantId}`,
            `--client-id=${clientId}`,
          ],
          // Through the environment, not argv, so it does not show in `ps`.
          { KEYVAULT_EMULATOR_CLIENT_SECRET: clientSecret, KEYVAULT_EMULATOR_TOKEN_KEY: tokenKey },
        );
      },
      ready({ main }, started) {
        return waitReady(
          "azure",
          started,
          // The CA file exists once the server made its certificate; health over HTTPS proves the CA verifies it.
          async () =>
            existsSync(caFile()) && keyVaultAdmin(`https://${HOST}:${main}`, readFileSync(caFile(), "utf8")).health(),
          30_000,
          100,
        );
      },
      async endpoints({ main, second }) {
        return {
          vaultUrl: `https://${HOST}:${main}`,
          authorityHost: `https://${HOST}:${second}`,
          tenantId,
          clientId,
          clientSecret,
          caPem: readFileSync(caFile(), "utf8"),
          caFile: caFile(),
        };
      },
    };
  },
};

/** A ClientSecretCredential of the Key Vault test server's application, against its authority. */
export function azureCredential(
  endpoints: { azure: AzureEndpoints },
  overrides: ClientSecretCredentialOptions = {},
): ClientSecretCredential {
  const { tenantId, clientId, clientSecret, authorityHost, caPem } = endpoints.azure;
  return new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: caPem },
    ...overrides,
  });
}

/**
 * SecretClient for the Key Vault test server, authenticated through its authority. TLS is verified against the
 * server's CA through the pipeline's per-client `tlsOptions.ca` (NODE_EXTRA_CA_CERTS would have to be set before
 * Node starts). The challenge's resource is "https://vault.azure.net" while the vault is on 127.0.0.1, hence
 * disableChallengeResourceVerification.
 */
export function azureSecretClient(
  endpoints: { azure: AzureEndpoints },
  overrides: SecretClientOptions = {},
): SecretClient {
  const { vaultUrl, caPem } = endpoints.azure;
  return new SecretClient(vaultUrl, azureCredential(endpoints), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: caPem },
    ...overrides,
  });
}
