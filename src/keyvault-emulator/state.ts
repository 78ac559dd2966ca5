/**
 * The vault's secrets, in memory, with Key Vault's rules and nothing about HTTP:
 *
 * - A secret is a list of versions; every set adds one (a 32-hex version id) and the newest is the current one.
 *   There is no conditional set: nothing like an ETag or If-Match exists for secret values.
 * - Names are case-insensitive; a secret keeps the spelling it was created with.
 * - A version has its own value, content type, tags (at most 15) and attributes (enabled, nbf, exp, created,
 *   updated). Getting a disabled version is refused (403); nbf and exp are informational, as Key Vault
 *   documents for secrets: get works outside that window.
 * - Soft delete: a deleted secret answers 404 as if it were gone, and its name is blocked (409) until it is
 *   recovered or purged.
 * - A secret that backs a certificate is `managed`: the secrets API may read it but not change it.
 *
 * Times are unix seconds, as the spec's `unixtime` attributes.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import {
  badParameter,
  conflict,
  deletedButRecoverable,
  deletedSecretNotFound,
  forbiddenManaged,
  secretDisabled,
  secretNotFound,
} from "./errors.js";

/** Key Vault's limits for secrets. */
export const MAX_TAGS = 15;
export const MAX_VALUE_BYTES = 25 * 1024;
/** Soft-delete retention of the emulated vault ("Recoverable+Purgeable", 90 days). */
export const RECOVERABLE_DAYS = 90;

export interface SecretVersion {
  readonly version: string;
  readonly value: string;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
  enabled: boolean;
  nbf: number | undefined;
  exp: number | undefined;
  readonly created: number;
  updated: number;
}

export interface SecretRecord {
  /** As first created; lookups ignore case. */
  readonly name: string;
  /** In creation order: the last one is the current version. */
  readonly versions: SecretVersion[];
  readonly managed: boolean;
  /** The key backing the certificate, for a managed secret. */
  readonly kid: string | undefined;
  deleted: { deletedDate: number; scheduledPurgeDate: number } | undefined;
}

export interface SetInput {
  value: string;
  contentType?: string | undefined;
  tags?: Record<string, string> | undefined;
  enabled?: boolean | undefined;
  nbf?: number | undefined;
  exp?: number | undefined;
}

export interface UpdateInput {
  contentType?: string | undefined;
  tags?: Record<string, string> | undefined;
  enabled?: boolean | undefined;
  nbf?: number | undefined;
  exp?: number | undefined;
}

/** Secret-free and deterministic: equal snapshots mean nothing a client could see changed. */
export interface VaultSnapshot {
  secrets: Array<{
    name: string;
    managed: boolean;
    deleted: boolean;
    versions: Array<{
      version: string;
      /** First 16 hex digits of the value's SHA-256. */
      valueDigest: string;
      contentType: string | null;
      tags: Record<string, string> | null;
      enabled: boolean;
      nbf: number | null;
      exp: number | null;
      created: number;
      updated: number;
    }>;
  }>;
}

export class VaultState {
  readonly #secrets = new Map<string, SecretRecord>();
  readonly #now: () => number;
  /** Encrypts backups, as Key Vault's are: a blob is opaque and restores only into this server. */
  readonly #backupKey = randomBytes(32);

  constructor(now: () => number = () => Date.now()) {
    this.#now = now;
  }

  /** Unix seconds. */
  now(): number {
    return Math.floor(this.#now() / 1000);
  }

  set(name: string, input: SetInput): { secret: SecretRecord; version: SecretVersion } {
    checkValue(input.value);
    checkTags(input.tags);
    const existing = this.#secrets.get(key(name));
    if (existing?.deleted !== undefined) throw deletedButRecoverable(existing.name);
    if (existing?.managed) throw forbiddenManaged(existing.name);
    const now = this.now();
    const version: SecretVersion = {
      version: randomBytes(16).toString("hex"),
      value: input.value,
      contentType: input.contentType,
      tags: input.tags === undefined ? undefined : { ...input.tags },
      enabled: input.enabled ?? true,
      nbf: input.nbf,
      exp: input.exp,
      created: now,
      updated: now,
    };
    const secret = existing ?? { name, versions: [], managed: false, kid: undefined, deleted: undefined };
    secret.versions.push(version);
    this.#secrets.set(key(name), secret);
    return { secret, version };
  }

  /** A version by id, or the current one; refused when it is disabled. */
  get(name: string, versionId?: string): { secret: SecretRecord; version: SecretVersion } {
    const found = this.#version(name, versionId);
    if (!found.version.enabled) throw secretDisabled("get");
    return found;
  }

  update(name: string, versionId: string, input: UpdateInput): { secret: SecretRecord; version: SecretVersion } {
    checkTags(input.tags);
    const found = this.#version(name, versionId);
    if (found.secret.managed) throw forbiddenManaged(found.secret.name);
    const { version } = found;
    if (input.contentType !== undefined) version.contentType = input.contentType;
    if (input.tags !== undefined) version.tags = { ...input.tags };
    if (input.enabled !== undefined) version.enabled = input.enabled;
    if (input.nbf !== undefined) version.nbf = input.nbf;
    if (input.exp !== undefined) version.exp = input.exp;
    version.updated = this.now();
    return found;
  }

  versions(name: string): { secret: SecretRecord; versions: readonly SecretVersion[] } {
    const secret = this.#live(name);
    return { secret, versions: secret.versions };
  }

  /** Secrets that are not deleted, in name order. */
  list(): SecretRecord[] {
    return this.#sorted().filter((secret) => secret.deleted === undefined);
  }

  delete(name: string): SecretRecord {
    const secret = this.#live(name);
    const now = this.now();
    secret.deleted = { deletedDate: now, scheduledPurgeDate: now + RECOVERABLE_DAYS * 24 * 60 * 60 };
    return secret;
  }

  getDeleted(name: string): SecretRecord {
    const secret = this.#secrets.get(key(name));
    if (secret?.deleted === undefined) throw deletedSecretNotFound(name);
    return secret;
  }

  listDeleted(): SecretRecord[] {
    return this.#sorted().filter((secret) => secret.deleted !== undefined);
  }

  recover(name: string): SecretRecord {
    const secret = this.getDeleted(name);
    secret.deleted = undefined;
    return secret;
  }

  purge(name: string): void {
    const secret = this.getDeleted(name);
    this.#secrets.delete(key(secret.name));
  }

  backup(name: string): string {
    const secret = this.#live(name);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#backupKey, iv);
    const plain = Buffer.from(JSON.stringify({ ...secret, deleted: undefined }), "utf8");
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString("base64url");
  }

  restore(blob: string): SecretRecord {
    let secret: SecretRecord;
    try {
      const bytes = Buffer.from(blob, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", this.#backupKey, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
      secret = { ...(JSON.parse(plain.toString("utf8")) as SecretRecord), deleted: undefined };
    } catch {
      throw badParameter("The backup blob is invalid or was not made by this vault.");
    }
    const existing = this.#secrets.get(key(secret.name));
    if (existing?.deleted !== undefined) throw deletedButRecoverable(existing.name);
    if (existing !== undefined) {
      throw conflict(
        `Secret ${existing.name} already exists; restore needs a name no secret uses.`,
        "ObjectAlreadyExists",
      );
    }
    this.#secrets.set(key(secret.name), secret);
    return secret;
  }

  /**
   * Seed a secret that backs a certificate, as creating a Key Vault certificate makes one: managed, a PKCS#12
   * content type, and a `kid`. Only Key Vault itself makes these; the secrets API cannot.
   */
  seedCertificateSecret(name: string, vaultUrl: string, value = randomBytes(48).toString("base64")): SecretRecord {
    if (this.#secrets.has(key(name))) throw conflict(`Secret ${name} already exists.`);
    const now = this.now();
    const secret: SecretRecord = {
      name,
      versions: [
        {
          version: randomBytes(16).toString("hex"),
          value,
          contentType: "application/x-pkcs12",
          tags: undefined,
          enabled: true,
          nbf: now,
          exp: now + 365 * 24 * 60 * 60,
          created: now,
          updated: now,
        },
      ],
      managed: true,
      kid: `${vaultUrl}/keys/${name}`,
      deleted: undefined,
    };
    this.#secrets.set(key(name), secret);
    return secret;
  }

  snapshot(): VaultSnapshot {
    return {
      secrets: this.#sorted().map((secret) => ({
        name: secret.name,
        managed: secret.managed,
        deleted: secret.deleted !== undefined,
        versions: secret.versions.map((v) => ({
          version: v.version,
          valueDigest: createHash("sha256").update(v.value, "utf8").digest("hex").slice(0, 16),
          contentType: v.contentType ?? null,
          tags: v.tags ?? null,
          enabled: v.enabled,
          nbf: v.nbf ?? null,
          exp: v.exp ?? null,
          created: v.created,
          updated: v.updated,
        })),
      })),
    };
  }

  /** Forget everything (between tests of a shared server). */
  reset(): void {
    this.#secrets.clear();
  }

  #live(name: string): SecretRecord {
    const secret = this.#secrets.get(key(name));
    if (secret === undefined || secret.deleted !== undefined) throw secretNotFound(name);
    return secret;
  }

  #version(name: string, versionId: string | undefined): { secret: SecretRecord; version: SecretVersion } {
    const secret = this.#live(name);
    const version =
      versionId === undefined || versionId === ""
        ? secret.versions.at(-1)
        : secret.versions.find((v) => v.version === versionId.toLowerCase());
    if (version === undefined) throw secretNotFound(versionId ? `${name}/${versionId}` : name);
    return { secret, version };
  }

  #sorted(): SecretRecord[] {
    return [...this.#secrets.values()].sort((a, b) => key(a.name).localeCompare(key(b.name)));
  }
}

function key(name: string): string {
  return name.toLowerCase();
}

function checkTags(tags: Record<string, string> | undefined): void {
  if (tags !== undefined && Object.keys(tags).length > MAX_TAGS) {
    throw badParameter(`A secret version can have at most ${MAX_TAGS} tags; ${Object.keys(tags).length} were given.`);
  }
}

function checkValue(value: string): void {
  if (Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES) {
    throw badParameter(`The secret value is larger than the maximum of ${MAX_VALUE_BYTES} bytes.`);
  }
}
