/**
 * Runs a Key Vault test server as its own process, for the integration harness (test/harness/servers.ts):
 *
 *   node --import tsx test/keyvault-server/cli.ts --port 0 --authority-port 0 --cert-dir DIR \
 *     --tenant-id GUID --client-id GUID
 *
 * Secrets come through the environment, never argv: KEYVAULT_CLIENT_SECRET (the application's secret) and
 * KEYVAULT_TOKEN_KEY (64 hex digits: the token signing key, so a restarted server accepts the tokens it issued).
 *
 * Prints one JSON line with vaultUrl, authorityHost, tenantId and caFile once both listeners are up, then serves
 * until SIGTERM or SIGINT. State is in memory: a restart starts empty (with the same certificate, from DIR).
 */
import { parseArgs } from "node:util";
import { startKeyVaultServer } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "authority-port": { type: "string", default: "0" },
    "cert-dir": { type: "string" },
    "tenant-id": { type: "string" },
    "client-id": { type: "string" },
  },
});

const clientSecret = process.env.KEYVAULT_CLIENT_SECRET;
const tokenKey = process.env.KEYVAULT_TOKEN_KEY;
const server = await startKeyVaultServer({
  port: Number(values.port),
  authorityPort: Number(values["authority-port"]),
  ...(values["cert-dir"] === undefined ? {} : { certDir: values["cert-dir"] }),
  ...(values["tenant-id"] === undefined ? {} : { tenantId: values["tenant-id"] }),
  ...(tokenKey === undefined || tokenKey === "" ? {} : { tokenKey: Buffer.from(tokenKey, "hex") }),
  client: {
    ...(values["client-id"] === undefined ? {} : { clientId: values["client-id"] }),
    ...(clientSecret === undefined || clientSecret === "" ? {} : { clientSecret }),
  },
});
process.stdout.write(
  `${JSON.stringify({
    vaultUrl: server.vaultUrl,
    authorityHost: server.authorityHost,
    tenantId: server.tenantId,
    clientId: server.client.clientId,
    caFile: server.caFile,
  })}\n`,
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void server.close().finally(() => process.exit(0));
  });
}
