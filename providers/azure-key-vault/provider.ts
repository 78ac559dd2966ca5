/**
 * An Azure Key Vault secret whose value is a JSON object holding the credential's fields (AWS Secrets Manager's
 * Twilio field names by default) and whatever else the operator keeps there, which every write keeps.
 *
 * Versions: every set makes a new version (a 32-hex id) and the newest is what readers get. There is no staging
 * label to move and no conditional write: Key Vault has no ETag or If-Match for secret values. So:
 *
 * - Write sets a new version (content type application/json) tagged `rotator-run` (the run id) and `rotator-key`
 *   (the new key's id, never a secret), after checking that the latest version is still the one prepare saw;
 *   then reads it back by its version id, and checks it is the latest. A retry or a `resume` that finds this
 *   run's version already latest, holding this credential, writes nothing.
 * - Rollback sets the previous version's value again (with its content type, tags, nbf and exp), tagged
 *   `rotator-run` and `rotator-restores` (the version it restores): Key Vault has no label to move back. It does
 *   so only while the latest version is this run's own; a version someone else wrote since is left alone
 *   (needs-operator). It rewrites data it reads again at rollback time, so the restore point keeps a hash of
 *   the value prepare read, and a value that reads back different (a corrupting middlebox, a substituted
 *   answer) is not written back (needs-operator). Nothing is ever deleted: every version stays in the
 *   secret's history.
 * - Release has nothing to drop: no copy is kept aside, and tags on versions are history.
 *
 * Both checks of "the latest version is the one expected" are a read, then a set: two requests, since Key Vault
 * offers no compare-and-set. A version someone else sets in between (the time of one request) would end up just
 * below rotator's and so hidden by it; it stays in the history, and the read-back check after the set catches a
 * version set just after rotator's. That is why `checkAndSet` is false.
 *
 * Preflight proves read access and the secret's state. It cannot prove write access: Key Vault's data plane has
 * no side-effect-free check of the `set` permission (updating a version's properties is a write too: it changes
 * `updated`, shows in the audit log, and under RBAC is a different data action), so `plan` says the permission is
 * unverified rather than pretend.
 *
 * The SDK's own retries are off (its retry of a set whose answer was lost would make a second version); calls are
 * retried here, honouring a 429's Retry-After within a bound, and a failed set is retried only after reading
 * which version is latest.
 */
import type { TokenCredential } from "@azure/identity";
import { type KeyVaultSecret, SecretClient } from "@azure/keyvault-secrets";
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
import { type RetryPolicy, withRetries } from "../error-kit/retry.js";
import { StoreError } from "../errors.js";
import { StoredFields } from "../fields.js";
import { once, type StoreIdentity } from "../identity.js";
import { contentHash, parseSecretObject, type SecretObject, withCredential } from "../json-secret.js";
import { beforeSend, callSignal, storeChange } from "../store-call.js";
import {
  assertCredentialKind,
  type ErrorFactory,
  holdsWritten,
  parseRestorePoint,
  sameCredential,
  shellQuote,
  storeErrors,
  undoneWriteKeys,
} from "../toolkit.js";
import { createCredential } from "./credential.js";
import { type AzureTarget, classifyAzureError, isDisabledVersion, keyVaultCode, safeCause } from "./errors.js";
import { type AzureKeyVaultConfig, SECRET_NAME } from "./schema.js";

/** Tags rotator puts on the versions it sets; every other tag is the operator's and is carried along. */
export const TAG_RUN = "rotator-run";
export const TAG_KEY = "rotator-key";
export const TAG_RESTORES = "rotator-restores";
/** Key Vault's limit of tags per version. */
export const MAX_TAGS = 15;
export const CONTENT_TYPE = "application/json";

/**
 * Key Vault has no conditional write, so the check that a set may still leave (its store call not given up,
 * this process's lease not about to run out) is made as late as the SDK allows: per attempt, after the
 * challenge and the token, as the request goes to the HTTP client (providers/store-call.ts).
 */
type PipelinePolicy = NonNullable<
  NonNullable<ConstructorParameters<typeof SecretClient>[2]>["additionalPolicies"]
>[number]["policy"];
const FENCE_POLICY: PipelinePolicy = {
  name: "rotatorStoreFence",
  sendRequest: async (request, next) => {
    await beforeSend();
    return next(request);
  },
};

export type { RetryPolicy } from "../error-kit/retry.js";

export interface AzureProviderOptions {
  /**
   * CA certificates (PEM) to trust for the vault and the authority besides Node's, for tests in process. A
   * process of its own is given them with NODE_EXTRA_CA_CERTS instead.
   */
  ca?: string;
  /** A credential to use instead of one built from config (tests). */
  credential?: TokenCredential;
  retry?: RetryPolicy;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

/** The restore point this provider journals: where, and which version was latest. Never a value. */
const restorePointSchema = z.object({
  /** The vault's origin as configured (normalised), to catch a config now pointing elsewhere. */
  vaultUrl: z.string().min(1),
  secretName: z.string().regex(SECRET_NAME),
  /** The version that was latest when prepare ran: rollback sets its value again. */
  previousVersionId: z.string().min(1),
  /**
   * valueHash() of that version's value as prepare read it (absent in restore points of rotator 0.1). Rollback
   * reads the version again to set its value; the hash proves the value it is about to write is the one it read
   * before the run.
   */
  previousValueHash: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .nullable()
    .default(null),
});
type AzureRestorePoint = z.infer<typeof restorePointSchema>;

/** One version as rotator needs it. `text` holds the secret: it lives in memory only. */
interface Version {
  id: string;
  text: string;
  contentType: string | undefined;
  tags: Record<string, string>;
  notBefore: Date | undefined;
  expiresOn: Date | undefined;
  managed: boolean;
}

export class AzureKeyVaultProvider implements StoreProvider {
  readonly type = "azure-key-vault";
  /** checkAndSet: false, because Key Vault has no conditional write (see the file comment). */
  readonly capabilities: ProviderCapabilities = {
    checkAndSet: false,
    versioned: true,
    fence: "deadline",
    rollbackFencesWrites: false,
  };
  readonly name: string;
  /** The vault's origin, `https://host[:port]`, as configured. */
  readonly vaultUrl: string;
  readonly secretName: string;
  readonly #config: AzureKeyVaultConfig;
  readonly #environment: ProviderEnvironment;
  readonly #options: AzureProviderOptions;
  readonly #retry: RetryPolicy | undefined;
  /** The run's credential type, as this store names its fields. */
  readonly #fields: StoredFields;
  readonly #error: ErrorFactory;
  #client: SecretClient | undefined;

  constructor(config: AzureKeyVaultConfig, environment: ProviderEnvironment, options: AzureProviderOptions = {}) {
    this.name = config.name;
    this.vaultUrl = new URL(config.vaultUrl).origin;
    this.secretName = config.secretName;
    this.#config = config;
    this.#environment = environment;
    this.#options = options;
    this.#retry = options.retry;
    this.#fields = new StoredFields(environment.credential, "json", config.fields);
    this.#error = storeErrors(config.name);
  }

  describe(): string {
    return `Azure Key Vault secret ${this.secretName} at ${this.vaultUrl}`;
  }

  /**
   * The vault's host (lowercased, the port made explicit) and the secret's name lowercased, as Key Vault compares
   * names without case. Not the host's addresses: many vaults share the same front-end addresses.
   */
  readonly identity = once(async (): Promise<StoreIdentity> => {
    const url = new URL(this.vaultUrl);
    const host = url.hostname.toLowerCase().replace(/\.$/, "");
    const origin = `https://${host}:${url.port === "" ? "443" : url.port}`;
    return { key: `azure-key-vault:${origin}/secrets/${this.secretName.toLowerCase()}`, display: this.describe() };
  });

  async preflight(): Promise<ProviderPreflight> {
    const latest = await this.#usableLatest();
    const snapshot = this.#snapshotOf(latest);
    const notes: string[] = [
      `Key Vault has no side-effect-free way to check write access, so rotator cannot prove it may set a new version ` +
        `of ${this.#where()} without setting one: write permission is unverified. The rotation needs the secrets ` +
        "permission set (RBAC: Key Vault Secrets Officer on the vault or the secret; access policy: Get and Set).",
    ];
    if (snapshot.credential === undefined) {
      notes.push(
        `${this.#where()} holds no complete ${this.#fields.type} credential yet; the first write adds the fields ` +
          `${this.#fields.names.join(", ")} and keeps the others.`,
      );
    }
    if (latest.contentType !== undefined && latest.contentType !== CONTENT_TYPE) {
      notes.push(
        `the latest version of ${this.#where()} has content type ${latest.contentType}; rotator's version is ${CONTENT_TYPE}.`,
      );
    }
    if (latest.expiresOn !== undefined || latest.notBefore !== undefined) {
      const window = [
        latest.notBefore === undefined ? undefined : `not before ${latest.notBefore.toISOString()}`,
        latest.expiresOn === undefined ? undefined : `expiring ${latest.expiresOn.toISOString()}`,
      ].filter((part) => part !== undefined);
      notes.push(
        `the latest version of ${this.#where()} is ${window.join(", ")}; rotator's new version has neither (a rollback ` +
          "puts them back with the old value).",
      );
    }
    return { snapshot, notes };
  }

  async read(): Promise<StoreSnapshot> {
    const latest = await this.#latest("read");
    return latest === undefined ? { credential: undefined, version: undefined } : this.#snapshotOf(latest);
  }

  async prepare(expected: StoreSnapshot, _ctx: WriteContext): Promise<RestorePoint> {
    const latest = await this.#usableLatest();
    if (latest.id !== expected.version) {
      throw this.#error(
        "needs-operator",
        `${this.#where()} changed after rotator read it (latest version ${expected.version ?? "none"} then, ` +
          `${latest.id} now); someone else may be rotating it. Run again once it is settled.`,
      );
    }
    this.#checkTagRoom(latest);
    const point: AzureRestorePoint = {
      vaultUrl: this.vaultUrl,
      secretName: this.secretName,
      previousVersionId: latest.id,
      previousValueHash: valueHash(latest.text),
    };
    return point;
  }

  async write(next: StoredCredential, restorePoint: RestorePoint, ctx: WriteContext): Promise<string | undefined> {
    assertCredentialKind(next, this.#fields.type, this.#error);
    const point = this.#restorePoint(restorePoint);
    // Tagged with the write key, not the id alone: an Auth Token rotation writes one token twice (StoredFields.writeKey).
    const keyId = this.#fields.writeKey(next);
    const isOurs = (version: Version) => this.#isRunVersion(version, ctx.runId, keyId);
    const latest = await this.#existingLatest();

    if (isOurs(latest)) {
      // Written before (a retry, or a resume): make sure it holds what this run meant.
      if (!sameCredential(this.#credentialIn(latest), next)) {
        throw this.#error(
          "needs-operator",
          `the latest version (${latest.id}) of ${this.#where()} carries this run's tags but holds another ` +
            "credential; check which credential the secret should hold.",
        );
      }
      return latest.id;
    }
    if (latest.id !== point.previousVersionId) throw this.#writtenByOthers(point.previousVersionId, latest.id);
    if (latest.managed) throw this.#managedError();

    // Read, compare, then set: Key Vault has no conditional write (see the file comment).
    const text = withCredential(this.#objectOf(latest), next, this.#fields);
    const tags = { ...operatorTags(latest.tags), [TAG_RUN]: ctx.runId, [TAG_KEY]: keyId };
    const written = await this.#setAfterChecking(
      "set",
      "set the new version",
      { text, contentType: CONTENT_TYPE, tags, notBefore: undefined, expiresOn: undefined },
      point.previousVersionId,
      isOurs,
    );

    const readBack = await this.#versionById(written, "read back the new version");
    if (readBack === undefined || readBack.text !== text || !sameCredential(this.#credentialIn(readBack), next)) {
      throw this.#error(
        "needs-operator",
        `version ${written} of ${this.#where()}, just set by rotator, reads back different content; something ` +
          "between rotator and Key Vault changes it. Check which credential the secret holds.",
      );
    }
    const after = await this.#existingLatest();
    if (after.id !== written) {
      throw this.#error(
        "needs-operator",
        `${this.#where()} got another version (${after.id}) right after rotator set ${written}; someone else is ` +
          "writing it. Check which credential it should hold.",
      );
    }
    return written;
  }

  async rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    const previousId = point.previousVersionId;
    const latest = await this.#latest("read");
    if (latest === undefined) {
      throw this.#error(
        "needs-operator",
        `${this.#where()} is gone (deleted since rotator wrote it), so rotator cannot roll it back. ${this.#previousHint(previousId)}`,
      );
    }
    if (latest.id === previousId) return; // never written
    const isRestore = (version: Version) =>
      version.tags[TAG_RUN] === ctx.runId && version.tags[TAG_RESTORES] === previousId;
    const previous = () => this.#previousVersion(previousId);

    if (isRestore(latest)) {
      // Undone already (a retry, or a resume of a rollback): check it is what it claims.
      if (latest.text === (await previous()).text) return;
      throw this.#changedByOthers(previousId, latest.id);
    }
    const ours =
      undoneWriteKeys(this.#fields, ctx).some((key) => this.#isRunVersion(latest, ctx.runId, key)) &&
      holdsWritten(this.#fields, this.#credentialIn(latest), ctx);
    if (!ours) throw this.#changedByOthers(previousId, latest.id);

    const before = await previous();
    if (point.previousValueHash !== null && valueHash(before.text) !== point.previousValueHash) {
      throw this.#error(
        "needs-operator",
        `cannot roll back ${this.#where()}: version ${previousId} reads back different from what rotator read before ` +
          "the run (its content hash changed), so setting it again could put a corrupted or substituted credential " +
          `in; nothing was written. The secret holds this run's new credential (version ${latest.id}). Check the ` +
          "path to Key Vault (a proxy?) and the version's history, then run `rotator resume` again.",
      );
    }
    const restored = await this.#setAfterChecking(
      "restore",
      `set the value of version ${previousId} again`,
      {
        text: before.text,
        contentType: before.contentType,
        tags: { ...operatorTags(before.tags), [TAG_RUN]: ctx.runId, [TAG_RESTORES]: previousId },
        notBefore: before.notBefore,
        expiresOn: before.expiresOn,
      },
      latest.id,
      isRestore,
    );
    const after = await this.#existingLatest();
    if (after.id !== restored) throw this.#changedByOthers(previousId, after.id);
  }

  async release(restorePoint: RestorePoint, _ctx: UndoContext): Promise<void> {
    // Key Vault keeps every version; nothing was kept aside, and the tags on this run's versions are history.
    this.#restorePoint(restorePoint);
  }

  // ------------------------------------------------------------------------------------------- reading

  /** The latest version, or undefined when the secret does not exist (or is soft-deleted). */
  async #latest(action: string): Promise<Version | undefined> {
    return this.#call(`${action} ${this.#where()}`, async (client) => {
      try {
        return versionOf(await client.getSecret(this.secretName, this.#requestOptions()));
      } catch (error) {
        if (keyVaultCode(error).code === "SecretNotFound") return undefined;
        throw error;
      }
    });
  }

  async #existingLatest(): Promise<Version> {
    const latest = await this.#latest("read");
    if (latest === undefined) {
      throw this.#error("needs-operator", `${this.#where()} disappeared (deleted) while rotator was writing it.`);
    }
    return latest;
  }

  /** A version by id, or undefined when it does not exist. */
  async #versionById(versionId: string, action: string): Promise<Version | undefined> {
    return this.#call(`${action} (version ${versionId} of ${this.#where()})`, async (client) => {
      try {
        return versionOf(await client.getSecret(this.secretName, { ...this.#requestOptions(), version: versionId }));
      } catch (error) {
        if (keyVaultCode(error).code === "SecretNotFound") return undefined;
        throw error;
      }
    });
  }

  /** The version from before the run, which rollback sets again; needs-operator when it cannot be read. */
  async #previousVersion(previousId: string): Promise<Version> {
    let version: Version | undefined;
    try {
      version = await this.#versionById(previousId, "read the version from before the run");
    } catch (error) {
      if (error instanceof StoreError && isDisabledVersion(error.cause)) {
        throw this.#error(
          "needs-operator",
          `cannot roll back ${this.#where()}: version ${previousId}, which it held before the run, has been disabled ` +
            "since, so rotator cannot read it. Enable it again and run `rotator rollback`, or put the right credential " +
            "in by hand.",
          error.cause,
        );
      }
      throw error;
    }
    if (version === undefined) {
      throw this.#error(
        "needs-operator",
        `cannot roll back ${this.#where()}: version ${previousId}, which it held before the run, no longer exists. ` +
          "Put the right credential in by hand.",
      );
    }
    return version;
  }

  /**
   * The latest version, refusing a secret rotator must not write: missing, soft-deleted, disabled, or backing a
   * certificate. Each message says what to do.
   */
  async #usableLatest(): Promise<Version> {
    let latest: Version | undefined;
    try {
      latest = await this.#latest("read");
    } catch (error) {
      if (error instanceof StoreError && isDisabledVersion(error.cause)) {
        throw this.#error(
          "fatal",
          `the latest version of ${this.#where()} is disabled, so no reader can get it and rotator would write over a ` +
            "secret nobody uses. Enable it (az keyvault secret set-attributes --enabled true --id <version id>; " +
            `list them with az keyvault secret list-versions ${this.#azTarget()}), or set an enabled version first.`,
          error.cause,
        );
      }
      throw error;
    }
    if (latest === undefined) throw await this.#missingError();
    if (latest.managed) throw this.#managedError();
    this.#objectOf(latest);
    return latest;
  }

  /** Why the secret is not there: soft-deleted (say how to recover it), or never made (say how to make it). */
  async #missingError(): Promise<StoreError> {
    const deleted = await this.#call(`look for a deleted ${this.#where()}`, async (client) => {
      try {
        return await client.getDeletedSecret(this.secretName, this.#requestOptions());
      } catch (error) {
        const { code, status } = keyVaultCode(error);
        // Not deleted either; or no permission to look, which leaves "does not exist" as the likely story.
        if (code === "SecretNotFound" || status === 403) return undefined;
        throw error;
      }
    });
    if (deleted !== undefined) {
      const purge = deleted.properties.scheduledPurgeDate?.toISOString();
      return this.#error(
        "fatal",
        `${this.#where()} is soft-deleted${purge === undefined ? "" : ` (to be purged ${purge})`}: Key Vault refuses new ` +
          `versions under its name until it is recovered or purged. Recover it (az keyvault secret recover ` +
          `${this.#azTarget()}) and run again, or purge it (az keyvault secret purge ${this.#azTarget()}) and create ` +
          "it anew.",
      );
    }
    return this.#error(
      "fatal",
      `${this.#where()} does not exist. Create it first, holding a JSON object (az keyvault secret set ` +
        `${this.#azTarget()} --value '{}' --content-type ${CONTENT_TYPE}), or fix "secretName" or "vaultUrl"; ` +
        "rotator does not create secrets, since undoing a creation would leave the name soft-deleted.",
    );
  }

  #managedError(): StoreError {
    return this.#error(
      "fatal",
      `${this.#where()} backs a Key Vault certificate (managed): Key Vault keeps the certificate in it and refuses ` +
        "other values. Keep the Twilio credential in a secret of its own.",
    );
  }

  #snapshotOf(version: Version): StoreSnapshot {
    return { credential: this.#fields.fromStore(this.#objectOf(version)), version: version.id };
  }

  #credentialIn(version: Version): StoredCredential | undefined {
    const object = parseSecretObject(version.text);
    return object === undefined ? undefined : this.#fields.fromStore(object);
  }
  #objectOf(version: Version): SecretObject {
    const object = parseSecretObject(version.text);
    if (object !== undefined) return object;
    // Never quote the value or the parser's message: both are the secret.
    const fields = this.#fields.names.map((field) => `"${field}": "..."`);
    throw this.#error(
      "fatal",
      `version ${version.id} of ${this.#where()} is not a JSON object, so rotator cannot keep what else it holds. ` +
        `Store the credential as JSON, such as {${fields.join(", ")}}, content type ${CONTENT_TYPE}.`,
    );
  }

  #isRunVersion(version: Version, runId: string, keyId: string): boolean {
    return (
      version.tags[TAG_RUN] === runId && version.tags[TAG_KEY] === keyId && version.tags[TAG_RESTORES] === undefined
    );
  }

  #checkTagRoom(latest: Version): void {
    const theirs = Object.keys(operatorTags(latest.tags)).length;
    if (theirs + 2 > MAX_TAGS) {
      throw this.#error(
        "fatal",
        `the latest version of ${this.#where()} has ${theirs} tags of its own; rotator's version carries them and 2 ` +
          `more (${TAG_RUN}, ${TAG_KEY}), and Key Vault allows ${MAX_TAGS}. Remove at least ${theirs + 2 - MAX_TAGS}.`,
      );
    }
  }

  // ------------------------------------------------------------------------------------------- writing

  /**
   * Set a version, retrying a passing failure only after reading which version is latest: if it is the one `done`
   * recognises, the earlier attempt landed and its answer was lost; if it is still `expectedLatest`, set again;
   * anything else is someone else's write (needs-operator).
   */
  async #setAfterChecking(
    op: "set" | "restore",
    action: string,
    version: Omit<Version, "id" | "managed">,
    expectedLatest: string,
    done: (latest: Version) => boolean,
  ): Promise<string> {
    // Set when a set failed: the next try first reads which version is latest (the file comment).
    let failed: StoreError | undefined;
    return withRetries(
      async () => {
        if (failed !== undefined) {
          const latest = await this.#existingLatest();
          if (done(latest)) return latest.id;
          if (latest.id !== expectedLatest) throw this.#writtenByOthers(expectedLatest, latest.id, failed);
        }
        try {
          const client = this.#secretClient();
          const set = await storeChange(op, () =>
            client.setSecret(this.secretName, version.text, {
              ...this.#requestOptions(),
              ...(version.contentType === undefined ? {} : { contentType: version.contentType }),
              tags: version.tags,
              enabled: true,
              ...(version.notBefore === undefined ? {} : { notBefore: version.notBefore }),
              ...(version.expiresOn === undefined ? {} : { expiresOn: version.expiresOn }),
            }),
          );
          const id = set.properties.version;
          if (id === undefined)
            throw this.#error("fatal", `Key Vault set a version of ${this.#where()} but named none.`);
          return id;
        } catch (error) {
          failed = error instanceof StoreError ? error : this.#azureError(error, `${action} of ${this.#where()}`);
          throw failed;
        }
      },
      // Only the set is tried again: a failed check of the latest version (itself retried) is final.
      { policy: this.#retry, retryAfterMs, retryable: (error) => error === failed && failed.kind === "retryable" },
    );
  }

  // ------------------------------------------------------------------------------------------- plumbing

  #secretClient(): SecretClient {
    if (this.#client !== undefined) return this.#client;
    const { ca } = this.#options;
    const credential =
      this.#options.credential ??
      createCredential(this.#config.auth, { store: this.name, env: this.#environment.env, ca });
    this.#client = new SecretClient(this.vaultUrl, credential, {
      // Retried here instead (see the file comment).
      retryOptions: { maxRetries: 0 },
      // Each request as it leaves (after the challenge and the token): a set only while its time has not run out.
      additionalPolicies: [{ policy: FENCE_POLICY, position: "perRetry" }],
      disableChallengeResourceVerification: this.#config.disableChallengeResourceVerification === true,
      ...(ca === undefined ? {} : { tlsOptions: { ca } }),
    });
    return this.#client;
  }

  #requestOptions() {
    const signal = callSignal();
    return {
      requestOptions: { timeout: this.#options.timeoutMs ?? 10_000 },
      ...(signal === undefined ? {} : { abortSignal: signal }),
    };
  }

  /** One logical call, retried while it fails in a passing way; anything it throws is a StoreError. */
  async #call<T>(action: string, operation: (client: SecretClient) => Promise<T>): Promise<T> {
    return withRetries(
      async () => {
        try {
          return await operation(this.#secretClient());
        } catch (error) {
          throw error instanceof StoreError ? error : this.#azureError(error, action);
        }
      },
      { policy: this.#retry, retryAfterMs },
    );
  }

  #azureError(error: unknown, action: string): StoreError {
    const failure = classifyAzureError(error, this.#target());
    return this.#error(failure.kind, `cannot ${action}: ${failure.explanation}`, safeCause(error));
  }

  #target(): AzureTarget {
    const { auth } = this.#config;
    return {
      vaultUrl: this.vaultUrl,
      secretName: this.secretName,
      auth:
        auth.method === "default"
          ? { method: "default" }
          : {
              method: "client-secret",
              tenantId: auth.tenantId,
              clientId: auth.clientId,
              secretVariable: auth.clientSecret.env,
            },
    };
  }

  #restorePoint(restorePoint: RestorePoint): AzureRestorePoint {
    const point = parseRestorePoint(restorePointSchema, restorePoint, this.#error);
    if (point.vaultUrl !== this.vaultUrl || point.secretName.toLowerCase() !== this.secretName.toLowerCase()) {
      throw this.#error(
        "fatal",
        `the restore point is for secret ${point.secretName} at ${point.vaultUrl}, but this store is now configured ` +
          `with ${this.secretName} at ${this.vaultUrl}; version ${point.previousVersionId} of that secret is what it ` +
          "held before the run.",
      );
    }
    return point;
  }

  #where(): string {
    return `secret ${this.secretName} in vault ${this.vaultUrl}`;
  }

  /** `--vault-name V --name S` when the vault's name shows in its URL, else `--id <secret URL>`-style advice. */
  #azTarget(): string {
    const name = /^([0-9a-z-]+)\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)$/i.exec(
      new URL(this.vaultUrl).hostname,
    )?.[1];
    return name === undefined
      ? `--id ${shellQuote(`${this.vaultUrl}/secrets/${this.secretName}`)}`
      : `--vault-name ${name} --name ${this.secretName}`;
  }

  #previousHint(previousId: string): string {
    return `Version ${previousId} held what it had before the run (az keyvault secret show --id ${shellQuote(`${this.vaultUrl}/secrets/${this.secretName}/${previousId}`)}).`;
  }

  #writtenByOthers(expected: string, now: string, cause?: unknown): StoreError {
    return this.#error(
      "needs-operator",
      `someone else set a version of ${this.#where()} since rotator read it (latest ${expected} then, ${now} now); ` +
        "nothing overwritten. Find out who changed it and which credential it should hold, then run again.",
      cause,
    );
  }

  #changedByOthers(previousId: string, now: string): StoreError {
    return this.#error(
      "needs-operator",
      `${this.#where()} has a version rotator did not write on top (${now}), so rotator left it alone. ` +
        `${this.#previousHint(previousId)} If that is the right credential, set its value again by hand.`,
    );
  }
}

function versionOf(secret: KeyVaultSecret): Version {
  const { properties } = secret;
  return {
    id: properties.version ?? "",
    text: secret.value ?? "",
    contentType: properties.contentType,
    tags: { ...(properties.tags ?? {}) },
    notBefore: properties.notBefore,
    expiresOn: properties.expiresOn,
    managed: properties.managed === true,
  };
}

/**
 * contentHash() of the JSON object a version's value holds (prepare only accepts such a value); "unreadable"
 * for one that is not, which no hash of a readable value can equal.
 */
function valueHash(text: string): string {
  const object = parseSecretObject(text);
  return object === undefined ? "unreadable" : contentHash(object);
}

/** The operator's tags: everything but rotator's own. */
function operatorTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([name]) => !name.startsWith("rotator-")));
}

/** How long a 429 asked to wait (its summary keeps Retry-After), in ms. */
function retryAfterMs(error: Error): number | undefined {
  const cause = error.cause as { retryAfterMs?: unknown } | undefined;
  return typeof cause?.retryAfterMs === "number" ? cause.retryAfterMs : undefined;
}
