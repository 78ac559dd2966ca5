/**
 * Control of a running server from another process (the integration harness starts one as a child, and test
 * files in other workers use it), as JSON over HTTPS under /__keyvault/ on the vault's port. No credentials: the
 * server listens on 127.0.0.1 only. Never answers with a secret value, a client secret or a token.
 *
 *   GET    /__keyvault/health                         200 {"status":"ok"}
 *   GET    /__keyvault/snapshot                       the vault's secret-free snapshot (state.ts)
 *   GET    /__keyvault/requests                       the request records (method, path, operation, status)
 *   POST   /__keyvault/faults        a fault (faults.ts) 201 the fault with its id
 *   GET    /__keyvault/faults[/{id}]                  the faults (or one) and how often they fired
 *   DELETE /__keyvault/faults[/{id}]                  204
 *   POST   /__keyvault/clients       {clientId?, clientSecret?, permissions?}   201 {clientId, permissions}
 *   PUT    /__keyvault/clients/{id}/permissions       {permissions: [...]}      204
 *   DELETE /__keyvault/clients/{id}                   204
 *   POST   /__keyvault/certificate-secrets  {name}    201: a secret backing a certificate (managed)
 */
import type { ServerResponse } from "node:http";
import * as z from "zod";
import { type AdminReply, kitAdmin } from "../server-kit/admin.js";
import type { ClientRegistry } from "./auth/clients.js";
import type { Faults } from "./faults.js";
import type { KeyVaultServer } from "./server.js";
import { sendJson } from "./server.js";
import { PERMISSIONS, type Permission } from "./spec.js";
import type { VaultState } from "./state.js";

export interface AdminDeps {
  server: KeyVaultServer;
  state: VaultState;
  faults: Faults;
  clients: ClientRegistry;
}

const permissions = z.array(z.enum(PERMISSIONS as [Permission, ...Permission[]]));
const clientInput = z.strictObject({
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(8).optional(),
  permissions: permissions.optional(),
});

export function handleAdmin(deps: AdminDeps, method: string, path: string, body: string, res: ServerResponse): void {
  let reply: AdminReply;
  try {
    reply = route(deps, method, path, body === "" ? {} : JSON.parse(body));
  } catch (error) {
    reply = { status: 400, body: { error: error instanceof Error ? error.message : String(error) } };
  }
  if (reply.body === undefined) res.writeHead(reply.status).end();
  else sendJson(res, reply.status, reply.body);
}

function route(deps: AdminDeps, method: string, path: string, json: unknown): AdminReply {
  const kit = kitAdmin(
    { faults: deps.faults },
    method,
    path.replace(/^\/__keyvault/, "").replace(/\/+$/, ""),
    () => json,
  );
  if (kit !== undefined) return kit;
  const [resource, id, sub] = path.split("/").filter(Boolean).slice(1);
  const notFound = (what: string): AdminReply => ({ status: 404, body: { error: `no ${what}` } });
  if (method === "GET" && resource === "health") return { status: 200, body: { status: "ok" } };
  if (method === "GET" && resource === "snapshot") return { status: 200, body: deps.state.snapshot() };
  if (method === "GET" && resource === "requests") return { status: 200, body: deps.server.requests };
  if (resource === "clients") {
    if (method === "POST" && id === undefined) {
      const input = clientInput.parse(json);
      const client = deps.clients.add({
        ...(input.clientId === undefined ? {} : { clientId: input.clientId }),
        ...(input.clientSecret === undefined ? {} : { clientSecret: input.clientSecret }),
        ...(input.permissions === undefined ? {} : { permissions: input.permissions }),
      });
      return { status: 201, body: { clientId: client.clientId, permissions: [...client.permissions] } };
    }
    if (method === "PUT" && id !== undefined && sub === "permissions") {
      deps.clients.setPermissions(id, z.strictObject({ permissions }).parse(json).permissions);
      return { status: 204 };
    }
    if (method === "DELETE" && id !== undefined)
      return deps.clients.remove(id) ? { status: 204 } : notFound(`client ${id}`);
  }
  if (method === "POST" && resource === "certificate-secrets") {
    const { name } = z.strictObject({ name: z.string().min(1) }).parse(json);
    const secret = deps.state.seedCertificateSecret(name, deps.server.vaultUrl);
    return { status: 201, body: { name: secret.name, managed: secret.managed } };
  }
  return notFound(`admin route ${method} ${path}`);
}
