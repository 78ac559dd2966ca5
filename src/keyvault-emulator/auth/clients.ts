/**
 * The applications (service principals) the test authority knows, with their client secrets and what each may
 * do on the vault. Permissions are the spec's `secrets/<permission>` names; a request whose caller lacks the one
 * its operation needs gets 403 Forbidden, as a missing role assignment (RBAC) would.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { PERMISSIONS, type Permission } from "../spec.js";

export interface ClientRecord {
  readonly clientId: string;
  /** The service principal's object id, as tokens carry it (`oid`). */
  readonly objectId: string;
  clientSecret: string;
  permissions: Set<Permission>;
}

export interface ClientInput {
  clientId?: string;
  clientSecret?: string;
  /** Default: every permission. */
  permissions?: readonly Permission[];
}

export class ClientRegistry {
  readonly #clients = new Map<string, ClientRecord>();

  /** Register an application; a new id and secret are made up when not given. */
  add(input: ClientInput = {}): ClientRecord {
    const clientId = (input.clientId ?? randomUUID()).toLowerCase();
    const record: ClientRecord = {
      clientId,
      objectId: randomUUID(),
      clientSecret: input.clientSecret ?? newClientSecret(),
      permissions: new Set(input.permissions ?? PERMISSIONS),
    };
    this.#clients.set(clientId, record);
    return record;
  }

  get(clientId: string): ClientRecord | undefined {
    return this.#clients.get(clientId.toLowerCase());
  }

  /** Grant exactly these permissions from now on (tokens already issued are judged by the new set). */
  setPermissions(clientId: string, permissions: readonly Permission[]): void {
    const client = this.get(clientId);
    if (client === undefined) throw new Error(`no client ${clientId}`);
    client.permissions = new Set(permissions);
  }

  remove(clientId: string): boolean {
    return this.#clients.delete(clientId.toLowerCase());
  }
}

/** Shaped like Entra ID client secrets: 40 characters with a `~` in them. */
export function newClientSecret(): string {
  const body = randomBytes(30).toString("base64").replace(/[+/=]/g, "x");
  return `${body.slice(0, 3)}8Q~${body.slice(3, 40)}`;
}
