/**
 * A secret in a Vault (or OpenBao) KV version 2 mount.
 *
 * Versions: the snapshot's version is the secret's current_version. KV v2 has no staging: a write is current at
 * once, so the write is check-and-set (`options.cas`) against the version preflight read, and a concurrent
 * writer makes it fail instead of being overwritten.
 *
 * Undo: the restore point records that version number (never data). Vault keeps the old version, so rollback
 * reads it and writes its data back as a new version, check-and-set against this run's version, which is what
 * `bao kv rollback` does. A secret this run created (or whose latest version was deleted) has no data to write
 * back: rollback soft-deletes exactly this run's version (`<mount>/delete/<path>` with `versions: [n]`), so
 * readers see no secret again, as before. Soft rather than destroy or metadata delete: it names one version,
 * so it can never remove a version someone else wrote in the meantime; it needs only `update` on the delete
 * path, which KV v2 policies grant far more often than `delete` on metadata; and an operator can undelete it.
 * The deleted version holds this run's new credential, which the engine discards (deletes at Twilio) anyway.
 */

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as z from "zod";
import type {
  ProviderCapabilities,
  ProviderPreflight,
  RestorePoint,
  StoredCredential,
  StoreProvider,
  StoreSnapshot,
  UndoContext,
  WriteContext,
} from "../contract.js";
import type { ProviderEnvironment } from "../definition.js";
import type { RetryPolicy } from "../error-kit/retry.js";
import { StoreError } from "../errors.js";
import { StoredFields } from "../fields.js";
import { canonicalOrigin, once, type StoreIdentity } from "../identity.js";
import { contentHash } from "../json-secret.js";
import { storeChange } from "../store-call.js";
import {
  assertCredentialKind,
  type ErrorFactory,
  holdsWritten,
  parseRestorePoint,
  sameCredential,
  storeErrors,
} from "../toolkit.js";
import { createSession, type VaultSession } from "./auth.js";
import { VaultHttp, type VaultRequest, type VaultResponse } from "./client.js";
import { type Needed, storeErrorFor, VaultRequestFailure } from "./errors.js";
import type { VaultKv2Config } from "./schema.js";

/** The restore point this provider journals: where, and which version was current. Never data. */
const restorePointSchema = z.object({
  namespace: z.string().nullable(),
  mount: z.string(),
  path: z.string(),
  /** current_version when prepare ran; 0 if the secret did not exist. */
  previousVersion: z.number().int().nonnegative(),
  /** Whether that version could be read (false: no secret, or its latest version deleted or destroyed). */
  previousHadData: z.boolean(),
  /**
   * dataHash() of that version's data as prepare read it (absent in restore points of rotator 0.1). Rollback
   * writes that version's data back after reading it again; the hash proves the bytes it is about to write are
   * the ones it read before the run, not a corrupted or substituted read.
   */
  previousDataHash: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .nullable()
    .default(null),
});
type VaultRestorePoint = z.infer<typeof restorePointSchema>;

type SecretData = Record<string, unknown>;

/** The secret as readers see it now. */
interface Current {
  /** current_version; 0 if the secret does not exist. */
  version: number;
  /** The latest version's data; undefined if there is no secret or its latest version is deleted or destroyed. */
  data: SecretData | undefined;
}

const secretData = z.record(z.string(), z.unknown());
const readResponse = z.object({
  data: z.object({ data: secretData.nullable(), metadata: z.object({ version: z.number().int().nonnegative() }) }),
});
/** A 404 for a version that is deleted or destroyed still carries its metadata. */
const deletedResponse = z.object({ data: z.object({ metadata: z.object({ version: z.number().int().positive() }) }) });
const errorsResponse = z.object({ errors: z.array(z.string()) });
const writeResponse = z.object({ data: z.object({ version: z.number().int().positive() }) });
const mountResponse = z.object({
  data: z.object({
    type: z.string(),
    path: z.string(),
    options: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});
const lookupSelfResponse = z.object({
  data: z.object({ policies: z.array(z.string()).nullable().optional(), ttl: z.number().optional() }),
});
const capabilitiesResponse = z.object({ data: z.record(z.string(), z.unknown()) });
const metadataResponse = z.object({ data: z.object({ max_versions: z.number().optional() }) });
const kvConfigResponse = z.object({ data: z.object({ max_versions: z.number().optional() }) });

/** Settings that are not config: tests shorten the retries. */
export interface VaultKv2Options {
  retry?: RetryPolicy;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

interface Connection {
  http: VaultHttp;
  session: VaultSession;
}

/** One capability rotator needs on one path, and why (for the message). */
interface Requirement extends Needed {
  why: string;
}

/**
 * 64 bits of the SHA-256 of a secret's data, keys sorted: journaled in the restore point, so it must not
 * reveal the secret; 64 bits cannot single out one value of a 128-bit secret (see the dotenv provider).
 */
export function dataHash(data: SecretData): string {
  return contentHash(data);
}

export class VaultKv2Provider implements StoreProvider {
  readonly type = "vault-kv2";
  readonly capabilities: ProviderCapabilities = {
    checkAndSet: true,
    versioned: true,
    fence: "store",
    rollbackFencesWrites: true,
  };
  readonly name: string;
  readonly address: string;
  readonly namespace: string | undefined;
  readonly mount: string;
  readonly path: string;
  readonly #config: VaultKv2Config;
  readonly #environment: ProviderEnvironment;
  readonly #options: VaultKv2Options;
  /** The run's credential type, as this store names its fields. */
  readonly #fields: StoredFields;
  readonly #error: ErrorFactory;
  #connection: Promise<Connection> | undefined;
  /** The token's policies, once preflight looked them up: messages name the policy to change. */
  #policies: readonly string[] | undefined;

  constructor(config: VaultKv2Config, environment: ProviderEnvironment, options: VaultKv2Options = {}) {
    this.name = config.name;
    this.#error = storeErrors(config.name);
    this.address = config.address.replace(/\/+$/, "");
    this.namespace = config.namespace;
    this.mount = config.mount;
    this.path = config.path;
    this.#config = config;
    this.#environment = environment;
    this.#options = options;
    this.#fields = new StoredFields(environment.credential, "json", config.fields);
  }

  describe(): string {
    return `Vault KV v2 secret ${this.#where()} at ${this.address}`;
  }

  /**
   * The server by its resolved address (so `localhost` and `127.0.0.1` are one Vault), and the secret by its
   * full path: a namespace is a path prefix to Vault, so `namespace: a, mount: b` and `mount: a/b` are one
   * secret.
   */
  readonly identity = once(async (): Promise<StoreIdentity> => {
    const full = [this.namespace, this.mount, this.path]
      .filter((part): part is string => part !== undefined && part !== "")
      .flatMap((part) => part.split("/"))
      .filter((segment) => segment !== "")
      .join("/");
    return { key: `vault-kv2:${await canonicalOrigin(this.address)}/${full}`, display: this.describe() };
  });

  async preflight(): Promise<ProviderPreflight> {
    const notes: string[] = [];
    if (plainHttpToAnotherHost(this.address)) {
      notes.push(
        `${this.address} is plain http: the Vault token and the credential cross the network unencrypted. Use https.`,
      );
    }
    const token = await this.#lookupSelf();
    this.#policies = token.policies;
    // A logged-in token is renewed by logging in again; a given token is what it is.
    const ttl = token.ttlSeconds;
    if (this.#config.auth.method === "token" && ttl !== undefined && ttl > 0 && ttl < 3600) {
      notes.push(
        `the Vault token expires in ${Math.ceil(ttl / 60)} minutes; a rotation that waits for consumers, or its ` +
          "rollback, may outlast it.",
      );
    }
    // Capabilities first: a refused token fails here, with a message about the token rather than the mount.
    const capabilities = await this.#capabilities([
      this.#dataPath,
      this.#deletePath,
      this.#metadataPath,
      this.#configPath,
    ]);
    await this.#checkMount();
    const read = { capability: "read", path: this.#dataPath, why: "read the secret and its earlier versions" };
    this.#require(capabilities, [read]);
    const current = await this.#readCurrent();
    const requirements: Requirement[] = [
      current.version > 0
        ? { capability: "update", path: this.#dataPath, why: "write the new credential over the existing secret" }
        : { capability: "create", path: this.#dataPath, why: "create the secret" },
    ];
    if (current.data === undefined) {
      requirements.push({
        capability: "update",
        path: this.#deletePath,
        why: "undo the write on rollback by deleting the version this run wrote, as there is no earlier data to write back",
      });
    }
    this.#require(capabilities, requirements);
    await this.#checkVersionsKept(capabilities, current);

    const snapshot = this.#snapshotOf(current);
    if (current.version === 0) {
      notes.push(`${this.#where()} does not exist yet; the write creates it (and a rollback deletes that version).`);
    } else if (current.data === undefined) {
      notes.push(
        `the latest version (${current.version}) of ${this.#where()} is deleted or destroyed; the write adds version ` +
          `${current.version + 1}.`,
      );
    } else if (snapshot.credential === undefined) {
      notes.push(
        `${this.#where()} holds no complete ${this.#fields.type} credential under the keys ${this.#fields.names.join(", ")}; ` +
          "the write adds them and keeps the other keys.",
      );
    }
    return { snapshot, notes };
  }

  async read(): Promise<StoreSnapshot> {
    return this.#snapshotOf(await this.#readCurrent());
  }

  async prepare(expected: StoreSnapshot, _ctx: WriteContext): Promise<RestorePoint> {
    const expectedVersion = this.#versionNumber(expected.version);
    const current = await this.#readCurrent();
    if (current.version !== expectedVersion) {
      throw this.#error(
        "needs-operator",
        `Vault secret ${this.#where()} changed after rotator read it (version ${expectedVersion}, now ` +
          `${current.version}); someone else wrote it. Nothing was written; run again once it is settled.`,
      );
    }
    const point: VaultRestorePoint = {
      namespace: this.namespace ?? null,
      mount: this.mount,
      path: this.path,
      previousVersion: current.version,
      previousHadData: current.data !== undefined,
      previousDataHash: current.data === undefined ? null : dataHash(current.data),
    };
    return point;
  }

  async write(next: StoredCredential, restorePoint: RestorePoint, _ctx: WriteContext): Promise<string | undefined> {
    assertCredentialKind(next, this.#fields.type, this.#error);
    const point = this.#restorePoint(restorePoint);
    const previous = point.previousVersion;
    const current = await this.#readCurrent();
    // Written already (a retry, or a resume): this run's version, holding this credential.
    if (current.version === previous + 1 && this.#holds(current, next)) return String(current.version);
    if (current.version !== previous) throw this.#writtenByOthers(previous, current.version);
    if (point.previousHadData && current.data === undefined) {
      // A soft delete keeps current_version, so check-and-set would let the write through, dropping every other key
      // the secret held, with no data left for rollback to write back.
      throw this.#error(
        "needs-operator",
        `someone else deleted version ${previous} of Vault secret ${this.#where()} since preflight; nothing ` +
          "overwritten. Find out who deleted it and which credential it should hold (undelete it with " +
          `"bao kv undelete -mount=${this.mount} -versions=${previous} ${this.path}"), then run again.`,
      );
    }

    const data: SecretData = { ...current.data, ...this.#fields.toStore(next) };
    // A retired optional field (an Auth Token's previous token) must not stay behind beside the new credential.
    for (const name of this.#fields.absentNames(next)) delete data[name];
    const capability = previous > 0 ? "update" : "create";
    let written: number;
    try {
      const { body } = await storeChange("write", () =>
        this.#call(
          { method: "POST", path: this.#dataPath, body: { data, options: { cas: previous } } },
          `write Vault secret ${this.#where()}`,
          { capability, path: this.#dataPath },
        ),
      );
      written = this.#parse(writeResponse, body, "write").data.version;
    } catch (error) {
      if (!isCasConflict(error)) throw error;
      // A retried request whose first attempt did land finds its own write; anything else is someone else's.
      const now = await this.#readCurrent();
      if (now.version === previous + 1 && this.#holds(now, next)) return String(now.version);
      throw this.#writtenByOthers(previous, now.version, error);
    }

    const after = await this.#readCurrent(`read back Vault secret ${this.#where()}`);
    if (after.version !== written) {
      throw this.#error(
        "needs-operator",
        `Vault secret ${this.#where()} changed right after rotator wrote version ${written} (now version ` +
          `${after.version}); someone else is writing it. Check which credential it should hold.`,
      );
    }
    if (!isDeepStrictEqual(after.data, data)) {
      throw this.#error(
        "needs-operator",
        `Vault secret ${this.#where()} reads back different data than rotator wrote in version ${written}: ` +
          "something between rotator and Vault (a proxy, a plugin) changes it. Check which credential it holds.",
      );
    }
    return String(written);
  }

  async rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#rollbackOnce(point, ctx);
        return;
      } catch (error) {
        // Check-and-set refused: the run's own write landed meanwhile (the one write that can cross this one
        // under the lock: a host frozen with it on its way). Decide again from what the secret holds now.
        if (isCasConflict(error) && attempt < 3) continue;
        throw error;
      }
    }
  }

  /**
   * One attempt at the rollback. Whatever the secret holds, it ends on a version above the one from before the
   * run: even when the run's write never landed, the data from before is written again (or, for a secret that
   * had none, an empty version written and deleted), so a write of this run still on its way, check-and-set
   * against that version, is refused by Vault whenever it arrives.
   */
  async #rollbackOnce(point: VaultRestorePoint, ctx: UndoContext): Promise<void> {
    const previous = point.previousVersion;
    const current = await this.#readCurrent();
    const held = current.data === undefined ? undefined : this.#fields.fromStore(current.data);
    const ours = current.version === previous + 1 && holdsWritten(this.#fields, held, ctx);

    if (!point.previousHadData) {
      if (current.version === previous) {
        const fence = await this.#writeData({}, previous, `fence Vault secret ${this.#where()}`);
        await this.#deleteVersion(fence, point, "fence");
        return;
      }
      if (current.data === undefined) return; // no data, as before the run (undone already)
      const ownFence = current.version === previous + 1 && Object.keys(current.data).length === 0;
      if (!ours && !ownFence) throw this.#changedByOthers(point, current.version);
      await this.#deleteVersion(current.version, point, "delete");
      return;
    }

    const before = await this.#dataBefore(point, current.version);
    if (current.version === previous || ours) {
      const written = await this.#writeData(
        before,
        current.version,
        `write version ${previous} of Vault secret ${this.#where()} back`,
      );
      const after = await this.#readCurrent();
      if (after.version !== written || !isDeepStrictEqual(after.data, before)) {
        throw this.#changedByOthers(point, after.version);
      }
      return;
    }
    // Undone already: the data of the version from before the run is current again.
    if (current.data !== undefined && isDeepStrictEqual(current.data, before)) return;
    throw this.#changedByOthers(point, current.version);
  }

  /** The data of the version from before the run, checked against the hash prepare journaled. */
  async #dataBefore(point: VaultRestorePoint, now: number): Promise<SecretData> {
    const previous = point.previousVersion;
    const before = await this.#readVersion(previous);
    if (
      before !== undefined &&
      typeof point.previousDataHash === "string" &&
      dataHash(before) !== point.previousDataHash
    ) {
      throw this.#error(
        "needs-operator",
        `cannot roll back Vault secret ${this.#where()}: version ${previous} reads back different from what rotator ` +
          "read before the run (its content hash changed), so writing it back could put a corrupted or substituted " +
          `credential in; nothing was written. The secret is on version ${now}. ` +
          "Check the path to Vault (a proxy?) and the version's history, then run `rotator resume` again.",
      );
    }
    if (before === undefined) {
      throw this.#error(
        "needs-operator",
        `cannot roll back Vault secret ${this.#where()}: version ${previous}, which it held before the run, is ` +
          "deleted or destroyed (or was dropped by max_versions), so rotator cannot write it back. The secret " +
          `is on version ${now}; put the right credential in by hand.`,
      );
    }
    return before;
  }

  /** Write `data` as a new version, check-and-set against `cas`; the version written. */
  async #writeData(data: SecretData, cas: number, action: string): Promise<number> {
    const { body } = await storeChange("restore", () =>
      this.#call({ method: "POST", path: this.#dataPath, body: { data, options: { cas } } }, action, {
        capability: cas > 0 ? "update" : "create",
        path: this.#dataPath,
      }),
    );
    return this.#parse(writeResponse, body, "write").data.version;
  }

  /** Soft-delete exactly one version (this run's, or the rollback's own fence), so readers see no data again. */
  async #deleteVersion(version: number, point: VaultRestorePoint, op: string): Promise<void> {
    await storeChange(op, () =>
      this.#call(
        { method: "POST", path: this.#deletePath, body: { versions: [version] } },
        `delete version ${version} of Vault secret ${this.#where()} (undoing this run's write)`,
        { capability: "update", path: this.#deletePath },
      ),
    );
    const after = await this.#readCurrent();
    if (after.data !== undefined) throw this.#changedByOthers(point, after.version);
  }

  async release(restorePoint: RestorePoint, _ctx: UndoContext): Promise<void> {
    // Vault keeps the versions; there is nothing of this run's to drop.
    this.#restorePoint(restorePoint);
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection === undefined) return;
    await connection.then(({ session }) => session.close()).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------- paths

  get #dataPath(): string {
    return `${this.mount}/data/${this.path}`;
  }

  get #deletePath(): string {
    return `${this.mount}/delete/${this.path}`;
  }

  get #metadataPath(): string {
    return `${this.mount}/metadata/${this.path}`;
  }

  get #configPath(): string {
    return `${this.mount}/config`;
  }

  /** `secret/apps/twilio`, with the namespace when there is one: how the user knows the secret. */
  #where(): string {
    const where = `${this.mount}/${this.path}`;
    return this.namespace === undefined ? where : `${where} (namespace ${this.namespace})`;
  }

  // ------------------------------------------------------------------------------------------- reading

  async #readCurrent(action = `read Vault secret ${this.#where()}`): Promise<Current> {
    const { status, body } = await this.#call({ method: "GET", path: this.#dataPath, accept: [404] }, action, {
      capability: "read",
      path: this.#dataPath,
    });
    if (status === 200) {
      const { data } = this.#parse(readResponse, body, "read");
      return { version: data.metadata.version, data: data.data ?? undefined };
    }
    const deleted = deletedResponse.safeParse(body);
    if (deleted.success) return { version: deleted.data.data.metadata.version, data: undefined };
    const errors = errorsResponse.safeParse(body);
    if (errors.success && errors.data.errors.length === 0) return { version: 0, data: undefined };
    throw this.#error(
      "fatal",
      `cannot ${action}: Vault at ${this.address} has no secrets engine at "${this.mount}/" ` +
        `(${errors.success ? errors.data.errors.join("; ") : "HTTP 404"}); check "mount" and "namespace".`,
    );
  }

  /** The data of one version, or undefined if it is deleted, destroyed or gone. */
  async #readVersion(version: number): Promise<SecretData | undefined> {
    const { status, body } = await this.#call(
      { method: "GET", path: `${this.#dataPath}?version=${version}`, accept: [404] },
      `read version ${version} of Vault secret ${this.#where()}`,
      { capability: "read", path: this.#dataPath },
    );
    if (status !== 200) return undefined;
    return this.#parse(readResponse, body, "read").data.data ?? undefined;
  }

  #snapshotOf(current: Current): StoreSnapshot {
    const credential = current.data === undefined ? undefined : this.#fields.fromStore(current.data);
    return { credential, version: current.version === 0 ? undefined : String(current.version) };
  }

  #holds(current: Current, credential: StoredCredential): boolean {
    if (current.data === undefined) return false;
    return sameCredential(this.#fields.fromStore(current.data), credential);
  }

  // ------------------------------------------------------------------------------------------- preflight checks

  /** The token's policies and remaining TTL. Never its id. A token without the default policy may not look itself up. */
  async #lookupSelf(): Promise<{ policies: readonly string[] | undefined; ttlSeconds: number | undefined }> {
    const { status, body } = await this.#call(
      { method: "GET", path: "auth/token/lookup-self", accept: [403] },
      "look up the Vault token",
    );
    if (status !== 200) return { policies: undefined, ttlSeconds: undefined };
    const parsed = lookupSelfResponse.safeParse(body);
    if (!parsed.success) return { policies: undefined, ttlSeconds: undefined };
    return { policies: parsed.data.data.policies ?? undefined, ttlSeconds: parsed.data.data.ttl };
  }

  /** The mount exists, is KV, is version 2, and is the mount the path is in. */
  async #checkMount(): Promise<void> {
    const probe = `sys/internal/ui/mounts/${this.mount}/${this.path}`;
    const { status, body } = await this.#call(
      { method: "GET", path: probe, accept: [400, 403, 404] },
      `look up the mount of Vault secret ${this.#where()}`,
    );
    if (status !== 200) {
      throw this.#error(
        "fatal",
        `Vault at ${this.address} shows this token no secrets engine at "${this.mount}/"${this.#inNamespace()}: ` +
          `either nothing is mounted there (see "bao secrets list"; fix "mount" or "namespace"), or the token's ` +
          `policies grant nothing under "${this.#dataPath}".`,
      );
    }
    const { data } = this.#parse(mountResponse, body, "mount lookup");
    const mountedAt = data.path.replace(/\/+$/, "");
    if (mountedAt !== this.mount) {
      throw this.#error(
        "fatal",
        `"${this.mount}/${this.path}" is in the secrets engine mounted at "${mountedAt}/", not "${this.mount}/"; ` +
          `set "mount" to "${mountedAt}" and "path" to the rest.`,
      );
    }
    if (data.type !== "kv" && data.type !== "generic") {
      throw this.#error(
        "fatal",
        `the secrets engine at "${this.mount}/" is of type "${data.type}", not a KV store; "mount" must name a ` +
          "KV version 2 mount.",
      );
    }
    const version = data.options?.version;
    if (version !== "2") {
      throw this.#error(
        "fatal",
        `the KV mount "${this.mount}/" is KV version 1, which keeps no versions and has no check-and-set, so ` +
          "rotator could neither write it safely nor roll it back. Use a KV version 2 mount, or upgrade this one " +
          `with "bao kv enable-versioning ${this.mount}" (after checking what else uses it).`,
      );
    }
  }

  /** What the token may do on each path, from sys/capabilities-self; writes nothing. */
  async #capabilities(paths: string[]): Promise<Map<string, readonly string[]>> {
    const { status, body } = await this.#call(
      { method: "POST", path: "sys/capabilities-self", body: { paths }, accept: [403] },
      "check the Vault token's capabilities",
    );
    if (status !== 200) {
      throw this.#error(
        "fatal",
        `Vault at ${this.address} refused the token${this.#inNamespace()} (HTTP 403 on sys/capabilities-self): it is ` +
          `invalid, expired or revoked, or lacks the "default" policy. ${this.#tokenHint()}`,
      );
    }
    const { data } = this.#parse(capabilitiesResponse, body, "capabilities");
    const result = new Map<string, readonly string[]>();
    for (const path of paths) {
      const value = data[path];
      result.set(path, Array.isArray(value) ? value.filter((c): c is string => typeof c === "string") : []);
    }
    return result;
  }

  #require(capabilities: Map<string, readonly string[]>, requirements: readonly Requirement[]): void {
    const missing = requirements.filter(({ path, capability }) => !allows(capabilities.get(path), capability));
    if (missing.length === 0) return;
    const policies =
      this.#policies === undefined || this.#policies.length === 0
        ? "the token's policies"
        : `the token's policies (${this.#policies.join(", ")})`;
    const lacks = missing.map(({ capability, path, why }) => `"${capability}" on "${path}" (to ${why})`).join(", ");
    const byPath = new Map<string, string[]>();
    for (const { capability, path } of missing) byPath.set(path, [...(byPath.get(path) ?? []), capability]);
    const rules = [...byPath]
      .map(([path, caps]) => `path "${path}" { capabilities = [${caps.map((c) => `"${c}"`).join(", ")}] }`)
      .join(" ");
    throw this.#error(
      "fatal",
      `${policies} lack ${lacks}. Add to one of those policies, next to what it grants already: ${rules}`,
    );
  }

  /** Rollback reads the version from before the run: it must not be dropped by the very write it undoes. */
  async #checkVersionsKept(capabilities: Map<string, readonly string[]>, current: Current): Promise<void> {
    if (current.data === undefined) return; // rollback deletes our version; no earlier version is needed
    let maxVersions = 0;
    if (allows(capabilities.get(this.#metadataPath), "read")) {
      const { body } = await this.#call(
        { method: "GET", path: this.#metadataPath },
        `read the metadata of Vault secret ${this.#where()}`,
        { capability: "read", path: this.#metadataPath },
      );
      maxVersions = metadataResponse.safeParse(body).data?.data.max_versions ?? 0;
    }
    if (maxVersions === 0 && allows(capabilities.get(this.#configPath), "read")) {
      const { body } = await this.#call(
        { method: "GET", path: this.#configPath },
        `read the configuration of KV mount ${this.mount}`,
        { capability: "read", path: this.#configPath },
      );
      maxVersions = kvConfigResponse.safeParse(body).data?.data.max_versions ?? 0;
    }
    if (maxVersions === 1) {
      throw this.#error(
        "fatal",
        `Vault secret ${this.#where()} keeps only 1 version (max_versions), so writing the new credential would ` +
          "destroy the current one and a rollback could not restore it. Raise max_versions to at least 2.",
      );
    }
  }

  // ------------------------------------------------------------------------------------------- plumbing

  async #call(request: Omit<VaultRequest, "token">, action: string, needed?: Needed): Promise<VaultResponse> {
    const { http, session } = await this.#connect();
    const token = await session.token();
    try {
      return await http.request({ ...request, token });
    } catch (error) {
      if (!(error instanceof VaultRequestFailure)) throw error;
      throw storeErrorFor(error, { store: this.name, address: this.address, action, needed, policies: this.#policies });
    }
  }

  /** The HTTP client and the session, made at first use (reading caFile); a failure is not kept. */
  #connect(): Promise<Connection> {
    this.#connection ??= this.#makeConnection().catch((error: unknown) => {
      this.#connection = undefined;
      throw error;
    });
    return this.#connection;
  }

  async #makeConnection(): Promise<Connection> {
    const { caFile } = this.#config;
    let ca: Buffer | undefined;
    if (caFile !== undefined) {
      const path = resolve(this.#environment.baseDir, caFile);
      try {
        ca = await readFile(path);
      } catch (error) {
        throw this.#error("fatal", `cannot read caFile ${path}; it must be the PEM file of Vault's CA.`, error);
      }
    }
    const http = new VaultHttp({
      address: this.address,
      namespace: this.namespace,
      ca,
      timeoutMs: this.#options.timeoutMs ?? 10_000,
      retry: this.#options.retry,
    });
    const session = createSession(this.#config.auth, http, {
      store: this.name,
      env: this.#environment.env,
      baseDir: this.#environment.baseDir,
    });
    return { http, session };
  }

  #parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    // Issue paths only: a message could quote a value, and this body may hold the credential.
    const where = parsed.error.issues.map((issue) => issue.path.join(".") || "(body)").join(", ");
    throw this.#error(
      "fatal",
      `Vault at ${this.address} gave an unexpected ${what} answer for ${this.#where()} (at ${where}); is it a Vault-compatible server?`,
    );
  }

  #restorePoint(restorePoint: RestorePoint): VaultRestorePoint {
    const point = parseRestorePoint(restorePointSchema, restorePoint, this.#error);
    if (point.mount !== this.mount || point.path !== this.path || point.namespace !== (this.namespace ?? null)) {
      const then = `${point.mount}/${point.path}${point.namespace === null ? "" : ` (namespace ${point.namespace})`}`;
      throw this.#error(
        "fatal",
        `the restore point is for Vault secret ${then}, but this store is now configured with ${this.#where()}; ` +
          `version ${point.previousVersion} of ${then} is what it held before the run.`,
      );
    }
    return point;
  }

  #versionNumber(version: string | undefined): number {
    if (version === undefined) return 0;
    if (!/^[1-9][0-9]*$/.test(version)) {
      throw this.#error("fatal", `"${version}" is not a version this provider reported; run preflight again.`);
    }
    return Number(version);
  }

  #writtenByOthers(expected: number, now: number, cause?: unknown): StoreError {
    return this.#error(
      "needs-operator",
      `someone else wrote Vault secret ${this.#where()} since preflight (version ${expected} then, ${now} now); ` +
        "nothing overwritten. Find out who changed it and which credential it should hold, then run again.",
      cause,
    );
  }

  #changedByOthers(point: VaultRestorePoint, now: number, cause?: unknown): StoreError {
    const restore =
      point.previousVersion > 0 && point.previousHadData
        ? ` If version ${point.previousVersion} (what it held before the run) is right, restore it with ` +
          `"bao kv rollback -mount=${this.mount} -version=${point.previousVersion} ${this.path}".`
        : "";
    return this.#error(
      "needs-operator",
      `Vault secret ${this.#where()} was changed by someone else after rotator wrote it (now version ${now}), so ` +
        `rotator left it alone.${restore}`,
      cause,
    );
  }

  #inNamespace(): string {
    return this.namespace === undefined ? "" : ` in namespace "${this.namespace}"`;
  }

  #tokenHint(): string {
    switch (this.#config.auth.method) {
      case "token":
        return `Check the token in ${this.#config.auth.token.env}.`;
      case "approle":
        return "Check the AppRole's token_policies and token_no_default_policy.";
      case "kubernetes":
        return "Check the Kubernetes role's token_policies and token_no_default_policy.";
    }
  }
}

/** Whether a capability list from sys/capabilities-self allows `capability` ("root" allows everything). */
function allows(capabilities: readonly string[] | undefined, capability: string): boolean {
  if (capabilities === undefined) return false;
  return capabilities.includes("root") || capabilities.includes(capability);
}

function isCasConflict(error: unknown): boolean {
  return (
    error instanceof StoreError && error.cause instanceof VaultRequestFailure && error.cause.kind === "cas-mismatch"
  );
}

function plainHttpToAnotherHost(address: string): boolean {
  const url = new URL(address);
  if (url.protocol !== "http:") return false;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return !(host === "localhost" || host === "::1" || /^127\./.test(host));
}
