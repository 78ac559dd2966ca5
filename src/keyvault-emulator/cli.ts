/**
 * `rotator emulator azure-key-vault`: start the Key Vault emulator (server.ts), print one JSON line with what a
 * client needs (the vault, its authority, the tenant, an application with every permission and its secret, the
 * CA to trust), and serve until SIGINT or SIGTERM. The application's secret is the emulator's own, made up for
 * this run, as the Twilio emulator's auth token is.
 *
 * Secrets come through the environment, never argv (argv shows in `ps`): KEYVAULT_EMULATOR_CLIENT_SECRET fixes the
 * application's secret, KEYVAULT_EMULATOR_TOKEN_KEY (64 hex digits) the key tokens are signed with, so a restarted
 * emulator keeps accepting the tokens it issued (the test harness restarts it for outage tests). State is in
 * memory: a restart starts empty, with the same certificate when --cert-dir is given.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { closeOnSignals } from "../server-kit/listener.js";
import { type KeyVaultServer, startKeyVaultServer } from "./server.js";

export interface KeyVaultEmulatorCommandOptions {
  port: number;
  authorityPort: number;
  /** Where the CA and server certificate live (kept, and reused by the next start); default a temporary one. */
  certDir?: string;
  tenantId?: string;
  clientId?: string;
  env: Readonly<Record<string, string | undefined>>;
}

export const CLIENT_SECRET_VARIABLE = "KEYVAULT_EMULATOR_CLIENT_SECRET";
export const TOKEN_KEY_VARIABLE = "KEYVAULT_EMULATOR_TOKEN_KEY";

export async function runKeyVaultEmulatorCommand(
  options: KeyVaultEmulatorCommandOptions,
  out: { write(text: string): unknown },
): Promise<KeyVaultServer> {
  const tokenKey = options.env[TOKEN_KEY_VARIABLE];
  if (tokenKey !== undefined && tokenKey !== "" && !/^[0-9a-f]{64}$/i.test(tokenKey)) {
    throw new Error(`${TOKEN_KEY_VARIABLE} must be 64 hex digits (32 bytes), or unset for a new key`);
  }
  const clientSecret = options.env[CLIENT_SECRET_VARIABLE];
  // A certificate directory of our own making is removed with the emulator; one the caller named is kept.
  const ownCertDir = options.certDir === undefined ? await mkdtemp(join(tmpdir(), "rotator-keyvault-tls-")) : undefined;
  const certDir = options.certDir ?? (ownCertDir as string);
  let server: KeyVaultServer;
  try {
    server = await startKeyVaultServer({
      port: options.port,
      authorityPort: options.authorityPort,
      certDir,
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(tokenKey === undefined || tokenKey === "" ? {} : { tokenKey: Buffer.from(tokenKey, "hex") }),
      client: {
        ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
        ...(clientSecret === undefined || clientSecret === "" ? {} : { clientSecret }),
      },
    });
  } catch (error) {
    if (ownCertDir !== undefined) await rm(ownCertDir, { recursive: true, force: true });
    throw new Error(startFailure(error), { cause: error });
  }
  const close = server.close.bind(server);
  let closing: Promise<void> | undefined;
  server.close = () => {
    closing ??= (async () => {
      await close();
      if (ownCertDir !== undefined) await rm(ownCertDir, { recursive: true, force: true });
    })();
    return closing;
  };
  closeOnSignals(server);
  out.write(
    `${JSON.stringify({
      vaultUrl: server.vaultUrl,
      authorityHost: server.authorityHost,
      tenantId: server.tenantId,
      clientId: server.client.clientId,
      clientSecret: server.client.clientSecret,
      caFile: server.caFile,
    })}\n`,
  );
  return server;
}

/** Why the emulator did not start, said in the options' terms (certificates.ts names a missing openssl). */
function startFailure(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    return `a port is already in use (${errorMessage(error)}): pick others with --port and --authority-port`;
  }
  return `the Key Vault emulator did not start: ${errorMessage(error)}`;
}
