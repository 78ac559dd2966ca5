/**
 * A typed client for a Key Vault test server's control routes (admin.ts), for tests whose server runs in another
 * process: the integration harness's shared one. Trusts exactly the server's CA.
 */
import { request } from "node:https";
import type { FaultInput, FaultView } from "./faults.js";
import type { RequestRecord } from "./server.js";
import type { Permission } from "./spec.js";
import type { VaultSnapshot } from "./state.js";

export interface KeyVaultAdmin {
  health(): Promise<boolean>;
  snapshot(): Promise<VaultSnapshot>;
  requests(): Promise<RequestRecord[]>;
  /** A fault as faults.ts takes it, with `path` as a string glob. */
  addFault(fault: Exclude<FaultInput, { path: RegExp }>): Promise<FaultView>;
  removeFault(id: string): Promise<void>;
  clearFaults(): Promise<void>;
  /** Register an application; its secret is the one given (so the caller knows it). */
  addClient(input: {
    clientId?: string;
    clientSecret: string;
    permissions?: Permission[];
  }): Promise<{ clientId: string }>;
  setPermissions(clientId: string, permissions: Permission[]): Promise<void>;
  removeClient(clientId: string): Promise<void>;
  seedCertificateSecret(name: string): Promise<void>;
}

export function keyVaultAdmin(vaultUrl: string, caPem: string): KeyVaultAdmin {
  const call = (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      const req = request(
        `${vaultUrl}/__keyvault/${path}`,
        {
          method,
          ca: caPem,
          timeout: 5_000,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            const json = raw === "" ? undefined : JSON.parse(raw);
            if (status >= 400) reject(new Error(`${method} /__keyvault/${path}: ${status} ${raw}`));
            else resolve({ status, json });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} /__keyvault/${path} timed out`)));
      req.on("error", reject);
      req.end(text);
    });
  return {
    health: () => call("GET", "health").then(({ status }) => status === 200),
    snapshot: async () => (await call("GET", "snapshot")).json as VaultSnapshot,
    requests: async () => (await call("GET", "requests")).json as RequestRecord[],
    addFault: async (fault) => (await call("POST", "faults", fault)).json as FaultView,
    removeFault: async (id) => void (await call("DELETE", `faults/${encodeURIComponent(id)}`)),
    clearFaults: async () => void (await call("DELETE", "faults")),
    addClient: async (input) => (await call("POST", "clients", input)).json as { clientId: string },
    setPermissions: async (clientId, permissions) =>
      void (await call("PUT", `clients/${encodeURIComponent(clientId)}/permissions`, { permissions })),
    removeClient: async (clientId) => void (await call("DELETE", `clients/${encodeURIComponent(clientId)}`)),
    seedCertificateSecret: async (name) => void (await call("POST", "certificate-secrets", { name })),
  };
}
