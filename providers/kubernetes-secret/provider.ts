/**
 * Keys of a Kubernetes Secret.
 *
 * Versions: the snapshot's version is the Secret's resourceVersion. Every change is a PUT carrying the
 * resourceVersion this run read, so the API server refuses it (409 Conflict) if anyone changed the Secret in
 * between: the write is conditional on the version preflight read, and a run that lost its lock and wakes up
 * late cannot overwrite what the run that took over wrote.
 *
 * Undo: a Secret keeps no history, so prepare copies the credential's keys as they are into a backup Secret
 * beside it (`<name>-rotator-backup`, owned by the Secret, labelled with the run), and the restore point journals
 * only where it is, the resourceVersion and a 64-bit hash of those keys. Rollback reads the backup, checks its
 * hash, and puts those keys back (removing the ones that were not there), again conditional on the version it
 * read; release deletes the backup. A Secret this run created is deleted on rollback, with the uid and
 * resourceVersion as preconditions.
 *
 * Synced (`syncedFrom`): another system fills the Secret (External Secrets Operator from an AWS secret). Rotator
 * never writes it; `sync.request` asks the ExternalSecret that owns it to refresh (ESO's documented
 * `force-sync` annotation) and the engine waits until it holds the new credential.
 *
 * Preflight asks the API server with SelfSubjectAccessReview for every right a run uses, changing nothing, and
 * refuses an immutable Secret (the API server refuses any change to its data).
 */
import type * as K8s from "@kubernetes/client-node";
import * as z from "zod";
import { type AccessNeed, describeNeeds, missingAccess, roleRules } from "../../src/kubernetes-client/access.js";
import {
  connectKubernetes,
  type KubernetesClient,
  KubernetesSetupError,
  resolveKubeConfig,
} from "../../src/kubernetes-client/client.js";
import { apiFailure, isConflict, isNotFound } from "../../src/kubernetes-client/errors.js";
import type {
  ProviderCapabilities,
  ProviderPreflight,
  RestorePoint,
  StoredCredential,
  StoreProvider,
  StoreSnapshot,
  StoreSync,
  UndoContext,
  WriteContext,
} from "../contract.js";
import type { ProviderEnvironment } from "../definition.js";
import { type RetryPolicy, withRetries } from "../error-kit/retry.js";
import type { StoreError } from "../errors.js";
import { StoredFields } from "../fields.js";
import { canonicalOrigin, once, type StoreIdentity } from "../identity.js";
import { contentHash } from "../json-secret.js";
import {
  assertCredentialKind,
  type ErrorFactory,
  holdsWritten,
  parseRestorePoint,
  sameCredential,
  storeErrors,
} from "../toolkit.js";
import type { KubernetesSecretConfig } from "./schema.js";

const MANAGED_BY = { "app.kubernetes.io/managed-by": "rotator" };
const BACKUP_OF = "rotator/backup-of";
const RUN = "rotator/run";
/** Set by a rollback that found the run's write had not landed: it moves the resourceVersion (see rollback). */
const ROLLED_BACK = "rotator/rolled-back-run";
/** ESO's annotation: a new value makes the controller refresh the ExternalSecret now. */
const FORCE_SYNC = "force-sync";

const restorePointSchema = z.object({
  namespace: z.string(),
  secretName: z.string(),
  /** resourceVersion when prepare read the Secret; null when it did not exist (this run creates it). */
  previousResourceVersion: z.string().nullable(),
  /** The backup Secret holding the credential's keys as they were; null when there were none to keep. */
  backupSecret: z.string().nullable(),
  /** contentHash() of those keys and values: rollback checks the backup it reads is what prepare saw. */
  previousKeysHash: z.string().regex(/^[0-9a-f]{16}$/),
});
type KubernetesRestorePoint = z.infer<typeof restorePointSchema>;

/** Settings that are not config: tests shorten them. */
export interface KubernetesSecretOptions {
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** How a read that met a passing failure (no answer, 429, 5xx) is tried again; default the one policy's. */
  retry?: RetryPolicy;
}

type SecretData = Record<string, string>;

export class KubernetesSecretProvider implements StoreProvider {
  readonly type = "kubernetes-secret";
  readonly capabilities: ProviderCapabilities = {
    checkAndSet: true,
    versioned: false,
    // Every change carries the resourceVersion it read. A Secret the run creates is the exception: a create
    // carries no condition, so there only the lease check and the deadline stand in the way (README, "Fencing").
    fence: "store",
    rollbackFencesWrites: true,
  };
  readonly name: string;
  readonly namespace: string;
  readonly secretName: string;
  readonly sync?: StoreSync;
  readonly #config: KubernetesSecretConfig;
  readonly #environment: ProviderEnvironment;
  readonly #options: KubernetesSecretOptions;
  /** The run's credential type, as this store names its fields. */
  readonly #fields: StoredFields;
  readonly #error: ErrorFactory;
  #client: Promise<KubernetesClient> | undefined;

  constructor(config: KubernetesSecretConfig, environment: ProviderEnvironment, options: KubernetesSecretOptions = {}) {
    this.name = config.name;
    this.namespace = config.namespace;
    this.secretName = config.secretName;
    this.#config = config;
    this.#environment = environment;
    this.#options = options;
    this.#fields = new StoredFields(environment.credential, "dotenv", config.fields);
    this.#error = storeErrors(config.name);
    if (config.syncedFrom !== undefined) {
      this.sync = {
        from: config.syncedFrom,
        timeoutSeconds: config.syncTimeoutSeconds,
        request: () => this.#requestRefresh(),
      };
    }
  }

  describe(): string {
    const synced = this.#config.syncedFrom === undefined ? "" : ` (synced from store "${this.#config.syncedFrom}")`;
    return `Kubernetes Secret ${this.#where()}${synced}`;
  }

  /**
   * The API server by its resolved address (so two kubeconfigs naming one cluster agree), then namespace and
   * name. A kubeconfig that cannot be read falls back to what the config says, as identity() must not throw.
   */
  readonly identity = once(async (): Promise<StoreIdentity> => {
    let cluster: string;
    try {
      const { server } = await resolveKubeConfig(this.#config, this.#connectOptions());
      cluster = await canonicalOrigin(server);
    } catch {
      cluster =
        this.#config.server ?? `kubeconfig:${this.#config.kubeconfig ?? "default"}:${this.#config.context ?? ""}`;
    }
    return {
      key: `kubernetes-secret:${cluster.toLowerCase()}/${this.namespace}/${this.secretName}`,
      display: this.describe(),
    };
  });

  // ------------------------------------------------------------------------------------------- contract

  async preflight(): Promise<ProviderPreflight> {
    const notes: string[] = [];
    const client = await this.#connect();
    await this.#requireAccess(client, [this.#need("get", this.secretName, "read the Secret")]);
    const secret = await this.#get(this.secretName);
    if (this.sync !== undefined) {
      if (secret === undefined) {
        throw this.#error(
          "fatal",
          `Secret ${this.#where()} does not exist; it is synced from store "${this.sync.from}", so whatever fills it ` +
            "(an ExternalSecret) is not working yet. Check it with `kubectl describe externalsecret -n " +
            `${this.namespace}\`.`,
        );
      }
      notes.push(await this.#refreshNote(client, secret));
      return { snapshot: this.#snapshotOf(secret), notes };
    }
    await this.#requireAccess(client, this.#writeNeeds(secret === undefined));
    if (secret?.immutable === true) throw this.#immutable();
    const owner = externalSecretOwner(secret);
    if (owner !== undefined) {
      notes.push(
        `Secret ${this.#where()} is owned by ExternalSecret "${owner.name}": External Secrets Operator overwrites ` +
          "it at its next refresh. Write its source store instead and declare this one with `syncedFrom: <store>`.",
      );
    }
    const backup = await this.#get(this.#backupName);
    if (backup !== undefined) {
      throw this.#error(
        "needs-operator",
        `a backup Secret ${this.namespace}/${this.#backupName} of run ${backup.metadata?.annotations?.[RUN] ?? "(unknown)"} ` +
          "is still there: that run is unfinished (run `rotator resume` or `rotator rollback` with its config), or " +
          `it ended without removing it. If no run is unfinished (\`rotator status\`), delete it: kubectl delete ` +
          `secret -n ${this.namespace} ${this.#backupName}`,
      );
    }
    if (secret === undefined) {
      notes.push(`Secret ${this.#where()} does not exist yet; the write creates it (and a rollback deletes it).`);
    }
    return { snapshot: this.#snapshotOf(secret), notes };
  }

  async read(): Promise<StoreSnapshot> {
    return this.#snapshotOf(await this.#get(this.secretName));
  }

  async prepare(expected: StoreSnapshot, ctx: WriteContext): Promise<RestorePoint> {
    this.#refuseSynced("prepare");
    const secret = await this.#get(this.secretName);
    const version = secret?.metadata?.resourceVersion;
    if (version !== expected.version) throw this.#changedSincePreflight(expected.version, version);
    if (secret?.immutable === true) throw this.#immutable();
    const keys = this.#credentialKeys(decode(secret?.data));
    let backupSecret: string | null = null;
    if (secret !== undefined && Object.keys(keys).length > 0) {
      await this.#saveBackup(keys, secret, ctx.runId);
      backupSecret = this.#backupName;
    }
    const point: KubernetesRestorePoint = {
      namespace: this.namespace,
      secretName: this.secretName,
      previousResourceVersion: version ?? null,
      backupSecret,
      previousKeysHash: contentHash(keys),
    };
    return point;
  }

  async write(next: StoredCredential, restorePoint: RestorePoint, _ctx: WriteContext): Promise<string | undefined> {
    this.#refuseSynced("write");
    assertCredentialKind(next, this.#fields.type, this.#error);
    const point = this.#restorePoint(restorePoint);
    const secret = await this.#get(this.secretName);
    const fields = encode(this.#fields.toStore(next));
    if (secret === undefined) {
      if (point.previousResourceVersion !== null) throw this.#deletedByOthers();
      return this.#create(fields);
    }
    // Already holds it: a retry, or a resume after a crash past the write.
    if (sameCredential(this.#credentialOf(secret), next)) return secret.metadata?.resourceVersion;
    const version = secret.metadata?.resourceVersion;
    if (point.previousResourceVersion === null || version !== point.previousResourceVersion) {
      throw this.#changedSincePreflight(point.previousResourceVersion ?? undefined, version);
    }
    if (secret.immutable === true) throw this.#immutable();
    const data: Record<string, string> = { ...(secret.data ?? {}), ...fields };
    // A retired optional field (an Auth Token's previous token) must not stay behind beside the new credential.
    for (const name of this.#fields.absentNames(next)) delete data[name];
    return this.#replace(secret, data, "write the new credential", () =>
      this.#error(
        "needs-operator",
        `someone else changed Secret ${this.#where()} as rotator wrote it: the API server refused the write, ` +
          `conditional on resourceVersion ${version} (what preflight read); nothing overwritten. Find out who ` +
          "changed it and which credential it should hold, then run again.",
      ),
    );
  }

  async rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    this.#refuseSynced("roll back");
    const point = this.#restorePoint(restorePoint);
    // A writer racing the rollback (a conflict) gets the Secret read again; three rounds, then it is theirs.
    for (let round = 1; round <= 3; round++) {
      const secret = await this.#get(this.secretName);
      if (secret === undefined) {
        if (point.previousResourceVersion === null) return; // never created, or already deleted
        throw this.#error(
          "needs-operator",
          `Secret ${this.#where()} was deleted by someone else after rotator wrote it; rotator left it alone.${this.#backupHint(point)}`,
        );
      }
      const version = secret.metadata?.resourceVersion;
      if (version === point.previousResourceVersion) {
        // The write has not landed, but it may still be on its way (a host frozen mid-request whose run this
        // rollback took over). Moving the resourceVersion, by an annotation only, makes the API server refuse
        // that write: it is conditional on the version it read. Data is untouched.
        const marked = {
          ...secret,
          metadata: { ...secret.metadata, annotations: { ...secret.metadata?.annotations, [ROLLED_BACK]: ctx.runId } },
        };
        const fenced = await this.#replace(
          marked,
          secret.data ?? {},
          "fence out the run's write",
          () => undefined,
        ).catch((error: unknown) => {
          if (isConflictError(error)) return undefined;
          throw error;
        });
        if (fenced !== undefined) return;
        continue;
      }
      const held = this.#credentialOf(secret);
      const holdsNew = holdsWritten(this.#fields, held, ctx);
      if (point.previousResourceVersion === null) {
        if (!holdsNew) throw this.#changedByOthers(point);
        const deleted = await this.#deleteIfUnchanged(this.secretName, secret, "delete the Secret this run created");
        if (deleted) return;
        continue;
      }
      if (contentHash(this.#credentialKeys(decode(secret.data))) === point.previousKeysHash) return; // already back
      if (!holdsNew) throw this.#changedByOthers(point);
      const previous = await this.#readBackup(point, ctx.runId);
      const data: Record<string, string> = { ...(secret.data ?? {}) };
      for (const key of this.#fields.names) {
        const value = previous[key];
        if (value === undefined) delete data[key];
        else data[key] = Buffer.from(value, "utf8").toString("base64");
      }
      const restored = await this.#replace(secret, data, "put the previous credential back", () => undefined).catch(
        (error: unknown) => {
          if (isConflictError(error)) return undefined;
          throw error;
        },
      );
      if (restored !== undefined) return;
    }
    throw this.#error(
      "needs-operator",
      `Secret ${this.#where()} kept changing while rotator put the previous credential back; rotator left it alone.${this.#backupHint(point)}`,
    );
  }

  async release(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    if (this.sync !== undefined) return;
    const point = this.#restorePoint(restorePoint);
    if (point.backupSecret === null) return;
    // A change between the read and the delete (a 409 on the preconditions) is read again, twice at most.
    for (let round = 1; round <= 3; round++) {
      const backup = await this.#get(point.backupSecret);
      if (backup === undefined || backup.metadata?.annotations?.[RUN] !== ctx.runId) return;
      if (await this.#deleteIfUnchanged(point.backupSecret, backup, "delete the backup Secret")) return;
    }
    throw this.#error(
      "retryable",
      `the backup Secret ${this.namespace}/${point.backupSecret} kept changing; delete it by hand.`,
    );
  }

  async close(): Promise<void> {
    this.#client = undefined;
  }

  // ------------------------------------------------------------------------------------------- synced stores

  /** Ask the ExternalSecret that owns the Secret to refresh now (ESO's force-sync annotation). */
  async #requestRefresh(): Promise<string> {
    let secret: K8s.V1Secret | undefined;
    try {
      secret = await this.#get(this.secretName);
    } catch (error) {
      return `could not read Secret ${this.#where()} to find what fills it: ${(error as Error).message}`;
    }
    const owner = externalSecretOwner(secret);
    if (owner === undefined) {
      return `no ExternalSecret owns Secret ${this.#where()}; waiting for whatever fills it to catch up`;
    }
    try {
      const client = await this.#connect();
      await client.custom.patchNamespacedCustomObject(
        {
          group: owner.group,
          version: owner.version,
          namespace: this.namespace,
          plural: "externalsecrets",
          name: owner.name,
          // ESO refreshes when the value changes: in milliseconds, so two requests within a second (the retire's
          // right after the first write's, with no signing lag) are two refreshes, not one.
          body: { metadata: { annotations: { [FORCE_SYNC]: String(Date.now()) } } },
        },
        client.mergePatch,
      );
      return `asked ExternalSecret "${owner.name}" to refresh (annotation ${FORCE_SYNC})`;
    } catch (error) {
      return (
        `could not ask ExternalSecret "${owner.name}" to refresh (${apiFailure(error).detail}); waiting for its ` +
        "refreshInterval instead"
      );
    }
  }

  async #refreshNote(client: KubernetesClient, secret: K8s.V1Secret): Promise<string> {
    const from = `store "${this.sync?.from}"`;
    const owner = externalSecretOwner(secret);
    if (owner === undefined) {
      return (
        `Secret ${this.#where()} is not written by rotator: after ${from} is written, rotator waits up to ` +
        `${this.#config.syncTimeoutSeconds} s for it to follow (no ExternalSecret owns it, so nothing is asked to refresh).`
      );
    }
    const need: AccessNeed = {
      verb: "patch",
      group: owner.group,
      resource: "externalsecrets",
      namespace: this.namespace,
      name: owner.name,
      why: "ask it to refresh",
    };
    const missing = await missingAccess(client, [need]).catch(() => [need]);
    return missing.length === 0
      ? `Secret ${this.#where()} is filled by ExternalSecret "${owner.name}": after ${from} is written, rotator asks it ` +
          `to refresh and waits up to ${this.#config.syncTimeoutSeconds} s.`
      : `Secret ${this.#where()} is filled by ExternalSecret "${owner.name}", which rotator may not ask to refresh ` +
          `(grant ${roleRules(missing)}); it waits up to ${this.#config.syncTimeoutSeconds} s for its refreshInterval.`;
  }

  #refuseSynced(action: string): void {
    if (this.sync === undefined) return;
    throw this.#error(
      "fatal",
      `cannot ${action} Secret ${this.#where()}: it is synced from store "${this.sync.from}", and rotator never writes it.`,
    );
  }

  // ------------------------------------------------------------------------------------------- access

  #need(verb: string, name: string | undefined, why: string): AccessNeed {
    return {
      verb,
      group: "",
      resource: "secrets",
      namespace: this.namespace,
      ...(name === undefined ? {} : { name }),
      why,
    };
  }

  /** Every right a run that writes this Secret uses, besides reading it. */
  #writeNeeds(absent: boolean): AccessNeed[] {
    const backup = this.#backupName;
    return [
      this.#need("update", this.secretName, "write the new credential, and put the old one back on rollback"),
      ...(absent ? [this.#need("delete", this.secretName, "delete the Secret this run creates, on rollback")] : []),
      this.#need("create", undefined, `create the backup Secret ${backup}${absent ? " and the Secret itself" : ""}`),
      this.#need("get", backup, "read the backup on rollback"),
      this.#need("update", backup, "keep the backup of a retried run up to date"),
      this.#need("delete", backup, "remove the backup once the run is over"),
    ];
  }

  async #requireAccess(client: KubernetesClient, needs: AccessNeed[]): Promise<void> {
    let missing: AccessNeed[];
    try {
      missing = await missingAccess(client, needs);
    } catch (error) {
      throw this.#requestError(error, "check its rights (SelfSubjectAccessReview)");
    }
    if (missing.length === 0) return;
    throw this.#error(
      "fatal",
      `${this.#who(client)} lacks ${describeNeeds(missing)} in namespace ${this.namespace}. Add to its Role: ` +
        `${roleRules(missing)} (the README's Kubernetes section has the whole least-rights Role).`,
    );
  }

  #who(client: KubernetesClient): string {
    return `the identity rotator uses (${client.source})`;
  }

  // ------------------------------------------------------------------------------------------- requests

  async #connect(): Promise<KubernetesClient> {
    this.#client ??= connectKubernetes(this.#config, this.#connectOptions()).catch((error: unknown) => {
      this.#client = undefined;
      if (error instanceof KubernetesSetupError) throw this.#error("fatal", `${error.message}.`);
      throw error;
    });
    return this.#client;
  }

  #connectOptions() {
    return {
      env: this.#environment.env,
      baseDir: this.#environment.baseDir,
      ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
    };
  }

  /** A Secret of this namespace, or undefined when there is none. Passing failures are tried again. */
  async #get(name: string): Promise<K8s.V1Secret | undefined> {
    const client = await this.#connect();
    // Reads only: a write is conditional on the resourceVersion it read, so a write tried again after a lost answer
    // would meet its own change as a conflict; the engine decides about a write that failed.
    return withRetries(
      async () => {
        try {
          return await client.core.readNamespacedSecret({ name, namespace: this.namespace });
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw this.#requestError(error, `read Secret ${this.namespace}/${name}`);
        }
      },
      { policy: this.#options.retry },
    );
  }

  async #create(data: SecretData): Promise<string | undefined> {
    const client = await this.#connect();
    try {
      const created = await client.core.createNamespacedSecret({
        namespace: this.namespace,
        body: { apiVersion: "v1", kind: "Secret", metadata: { name: this.secretName }, type: "Opaque", data },
      });
      return created.metadata?.resourceVersion;
    } catch (error) {
      if (isConflict(error)) {
        throw this.#error(
          "needs-operator",
          `Secret ${this.#where()} was created by someone else since preflight; nothing overwritten. Find out which ` +
            "credential it should hold, then run again.",
        );
      }
      throw this.#requestError(error, `create Secret ${this.#where()}`);
    }
  }

  /** PUT the Secret with new data, conditional on the resourceVersion it was read with; `conflict` on a 409. */
  async #replace(
    secret: K8s.V1Secret,
    data: SecretData,
    action: string,
    conflict: () => StoreError | undefined,
  ): Promise<string | undefined> {
    const client = await this.#connect();
    try {
      const replaced = await client.core.replaceNamespacedSecret({
        name: this.secretName,
        namespace: this.namespace,
        body: { ...secret, data },
      });
      return replaced.metadata?.resourceVersion;
    } catch (error) {
      if (isConflict(error)) {
        const refused = conflict();
        if (refused !== undefined) throw refused;
        throw new ConflictError();
      }
      throw this.#requestError(error, `${action} (Secret ${this.#where()})`);
    }
  }

  /** Delete with the uid and resourceVersion read as preconditions; false when someone changed it meanwhile. */
  async #deleteIfUnchanged(name: string, secret: K8s.V1Secret, action: string): Promise<boolean> {
    const client = await this.#connect();
    try {
      await client.core.deleteNamespacedSecret({
        name,
        namespace: this.namespace,
        body: {
          preconditions: {
            ...(secret.metadata?.uid === undefined ? {} : { uid: secret.metadata.uid }),
            ...(secret.metadata?.resourceVersion === undefined
              ? {}
              : { resourceVersion: secret.metadata.resourceVersion }),
          },
        },
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return true;
      if (isConflict(error)) return false;
      throw this.#requestError(error, `${action} (${this.namespace}/${name})`);
    }
  }

  #requestError(error: unknown, action: string): StoreError {
    const failure = apiFailure(error);
    const server = this.#config.server ?? "the API server";
    if (failure.status === 401) {
      return this.#error(
        "fatal",
        `cannot ${action}: ${server} did not accept rotator's credential (HTTP 401); check the token or kubeconfig user.`,
      );
    }
    if (failure.status === 403) {
      return this.#error(
        "fatal",
        `cannot ${action}: forbidden (${failure.detail}). Grant the rights the README's Kubernetes section lists.`,
      );
    }
    return this.#error(failure.kind, `cannot ${action}: ${failure.detail}.`);
  }

  // ------------------------------------------------------------------------------------------- backup

  get #backupName(): string {
    const suffix = "-rotator-backup";
    return `${this.secretName.slice(0, 253 - suffix.length).replace(/[-.]+$/, "")}${suffix}`;
  }

  async #saveBackup(keys: Record<string, string>, secret: K8s.V1Secret, runId: string): Promise<void> {
    const client = await this.#connect();
    const body: K8s.V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: this.#backupName,
        namespace: this.namespace,
        labels: MANAGED_BY,
        annotations: { [BACKUP_OF]: this.secretName, [RUN]: runId },
        // Removed with the Secret it backs up, should that be deleted.
        ...(secret.metadata?.uid === undefined
          ? {}
          : {
              ownerReferences: [{ apiVersion: "v1", kind: "Secret", name: this.secretName, uid: secret.metadata.uid }],
            }),
      },
      type: "Opaque",
      data: encode(keys),
    };
    try {
      await client.core.createNamespacedSecret({ namespace: this.namespace, body });
      return;
    } catch (error) {
      if (!isConflict(error)) throw this.#requestError(error, `create the backup Secret ${this.#backupName}`);
    }
    const existing = await this.#get(this.#backupName);
    if (existing?.metadata?.annotations?.[RUN] !== runId) {
      throw this.#error(
        "needs-operator",
        `a backup Secret ${this.namespace}/${this.#backupName} of another run (${existing?.metadata?.annotations?.[RUN] ?? "unknown"}) ` +
          "is in the way; finish that run with `rotator resume` or `rotator rollback`, or delete the backup if no run is unfinished.",
      );
    }
    // This run's own backup from an earlier attempt (a retry, a resume): brought up to date.
    try {
      await client.core.replaceNamespacedSecret({
        name: this.#backupName,
        namespace: this.namespace,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion ?? "" } },
      });
    } catch (error) {
      throw this.#requestError(error, `update the backup Secret ${this.#backupName}`);
    }
  }

  async #readBackup(point: KubernetesRestorePoint, runId: string): Promise<Record<string, string>> {
    if (point.backupSecret === null) {
      if (point.previousKeysHash !== contentHash({})) {
        throw this.#error(
          "fatal",
          "the restore point names no backup but records earlier keys; it is not one this provider wrote.",
        );
      }
      return {};
    }
    const backup = await this.#get(point.backupSecret);
    if (backup === undefined) {
      throw this.#error(
        "needs-operator",
        `the backup Secret ${this.namespace}/${point.backupSecret} is gone, so rotator cannot put the previous ` +
          `credential back into Secret ${this.#where()}; it still holds this run's new one. Put the old credential ` +
          "back by hand (or keep the new one: `rotator resume` then carries the run on).",
      );
    }
    const keys = this.#credentialKeys(decode(backup.data));
    if (backup.metadata?.annotations?.[RUN] !== runId || contentHash(keys) !== point.previousKeysHash) {
      throw this.#error(
        "needs-operator",
        `the backup Secret ${this.namespace}/${point.backupSecret} does not hold what this run saved (another run's, ` +
          "or changed since), so rotator will not write it back; Secret " +
          `${this.#where()} still holds this run's new credential.`,
      );
    }
    return keys;
  }

  #backupHint(point: KubernetesRestorePoint): string {
    return point.backupSecret === null
      ? ""
      : ` What it held before the run is in Secret ${this.namespace}/${point.backupSecret}.`;
  }

  // ------------------------------------------------------------------------------------------- data

  #snapshotOf(secret: K8s.V1Secret | undefined): StoreSnapshot {
    return {
      credential: secret === undefined ? undefined : this.#credentialOf(secret),
      version: secret?.metadata?.resourceVersion,
    };
  }

  #credentialOf(secret: K8s.V1Secret): StoredCredential | undefined {
    return this.#fields.fromStore(decode(secret.data));
  }

  /** The credential's keys the data has, with their values: what a backup keeps and a rollback puts back. */
  #credentialKeys(data: Record<string, string>): Record<string, string> {
    const keys: Record<string, string> = {};
    for (const key of this.#fields.names) {
      const value = data[key];
      if (value !== undefined) keys[key] = value;
    }
    return keys;
  }

  #restorePoint(restorePoint: RestorePoint): KubernetesRestorePoint {
    const point = parseRestorePoint(restorePointSchema, restorePoint, this.#error);
    if (point.namespace !== this.namespace || point.secretName !== this.secretName) {
      throw this.#error(
        "fatal",
        `the restore point is for Secret ${point.namespace}/${point.secretName}, but this store is now configured with ` +
          `${this.#where()}.`,
      );
    }
    return point;
  }

  #where(): string {
    return `${this.namespace}/${this.secretName}`;
  }

  // ------------------------------------------------------------------------------------------- errors

  #immutable(): StoreError {
    return this.#error(
      "fatal",
      `Secret ${this.#where()} is immutable: the API server refuses any change to its data, so rotator cannot ` +
        "rotate it in place. Recreate it without `immutable: true` (pods read it again when restarted).",
    );
  }

  #changedSincePreflight(then: string | undefined, now: string | undefined): StoreError {
    const said = (version: string | undefined) => (version === undefined ? "absent" : `resourceVersion ${version}`);
    return this.#error(
      "needs-operator",
      `someone else changed Secret ${this.#where()} since preflight (${said(then)} then, ${said(now)} now); nothing ` +
        "overwritten. Find out who changed it and which credential it should hold, then run again.",
    );
  }

  #deletedByOthers(): StoreError {
    return this.#error(
      "needs-operator",
      `Secret ${this.#where()} was deleted by someone else since preflight; nothing written. Find out why, then run again.`,
    );
  }

  #changedByOthers(point: KubernetesRestorePoint): StoreError {
    return this.#error(
      "needs-operator",
      `Secret ${this.#where()} was changed by someone else after rotator wrote it, so rotator left it alone.` +
        this.#backupHint(point),
    );
  }
}

/** A 409 met while putting a value back: the caller reads again and decides afresh. */
class ConflictError extends Error {
  override readonly name = "ConflictError";
}

function isConflictError(error: unknown): boolean {
  return error instanceof ConflictError;
}

/** The ExternalSecret (external-secrets.io) that owns a Secret, as ESO's default creationPolicy Owner sets it. */
function externalSecretOwner(
  secret: K8s.V1Secret | undefined,
): { group: string; version: string; name: string } | undefined {
  const reference = secret?.metadata?.ownerReferences?.find(
    (owner) => owner.kind === "ExternalSecret" && owner.apiVersion.startsWith("external-secrets.io/"),
  );
  if (reference === undefined) return undefined;
  const [group = "external-secrets.io", version = "v1"] = reference.apiVersion.split("/");
  return { group, version, name: reference.name };
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(data ?? {})) decoded[key] = Buffer.from(value, "base64").toString("utf8");
  return decoded;
}

function encode(fields: Record<string, string>): SecretData {
  const encoded: SecretData = {};
  for (const [key, value] of Object.entries(fields)) encoded[key] = Buffer.from(value, "utf8").toString("base64");
  return encoded;
}
