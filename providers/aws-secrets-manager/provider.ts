/**
 * An AWS Secrets Manager secret whose value is a JSON object holding the credential's fields (and anything else
 * the operator keeps there, which every write keeps).
 *
 * Write, in two phases with Secrets Manager's own staging labels:
 *   1. PutSecretValue with the new JSON as a version labelled AWSPENDING only, so no reader sees it yet. Its
 *      ClientRequestToken (which becomes its VersionId) is derived from the run id and the new key's id, so a
 *      retry or a `resume` finds the same version instead of making a second one.
 *   2. Read that version back by its VersionId and compare.
 *   3. UpdateSecretVersionStage: move AWSCURRENT to it, naming the version AWSCURRENT must be moved from; the
 *      service refuses if AWSCURRENT moved meanwhile, so this is an atomic compare-and-swap. AWSPREVIOUS follows
 *      to the old version, as in AWS's own rotation. Then the AWSPENDING label is taken off again.
 *
 * Undo: the value from before the run (read by the version id the restore point holds) is written again as a new
 * version, staged as AWSPENDING, and AWSCURRENT is moved to it from wherever it is (the run's version, or still the
 * old one), conditionally; AWSPREVIOUS and AWSPENDING then go back to where they were. Restoring by moving
 * AWSCURRENT back to the old version would let a switch of this run still on its way (a host frozen mid-write
 * whose run another host rolled back; its SDK retrying after a timeout) land afterwards: it names the old
 * version in RemoveFromVersionId, and would find AWSCURRENT there again. After a restore by a new version it
 * never does, and Secrets Manager refuses it. When the run's own version was never staged, the old value is
 * written under the run's own version id, so a PutSecretValue of the run still on its way is refused too. The
 * versions left without labels are deprecated history. Nothing is ever deleted.
 *
 * Fencing: every request that changes the secret is sent only while this process holds the store's lock (and
 * its lease has time left: providers/store-call.ts), and every label move names the version the label is on as
 * this process saw it, so a move racing anyone else's fails instead of undoing it.
 *
 * Reads always ask for VersionStage AWSCURRENT: moto (the local emulator) answers a read without a stage from
 * a stale pointer after a label move (moto bug 1 in notes/emulators.md), and asking explicitly is right on AWS too.
 */
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
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
import { canonicalOrigin, once, type StoreIdentity } from "../identity.js";
import { parseSecretObject, type SecretObject, withCredential } from "../json-secret.js";
import { beforeSend, callSignal, StoreFenceError, storeChange } from "../store-call.js";
import {
  assertCredentialKind,
  type ErrorFactory,
  parseRestorePoint,
  sameCredential,
  shellQuote,
  storeErrors,
  undoneWriteKeys,
} from "../toolkit.js";
import { classifyAwsError, safeCause } from "./errors.js";
import type { AwsSecretsManagerConfig } from "./schema.js";
import { regionOfArn } from "./schema.js";
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  isRotatorVersion,
  type Labels,
  labelsOf,
  restoreVersionIdFor,
  versionIdFor,
} from "./staging.js";

/**
 * The SDK retries throttling, 5xx and network errors by itself; kept low so the two layers do not multiply:
 * one call makes at most SDK_MAX_ATTEMPTS x (retries + 1) requests (the one retry policy, error-kit/retry.ts).
 */
export const SDK_MAX_ATTEMPTS = 2;

export interface AwsProviderOptions {
  /** A client to use instead of one built from config (tests). close() destroys it. */
  client?: SecretsManagerClient;
  retry?: RetryPolicy;
}

/** The restore point this provider journals: ids only, never a value. */
const restorePointSchema = z.object({
  /** The secret as DescribeSecret named it when prepare ran: catches a config now pointing elsewhere. */
  secretArn: z.string().min(1),
  /** The version AWSCURRENT was on: rollback moves AWSCURRENT back to it. */
  previousVersionId: z.string().min(1),
  /** Where AWSPREVIOUS was (the write moves it to previousVersionId). */
  previousLabelVersionId: z.string().min(1).nullable(),
  /** AWSPENDING sat on the current version (left by an earlier rotation); the write takes it over. */
  pendingOnPrevious: z.boolean(),
});
type AwsRestorePoint = z.infer<typeof restorePointSchema>;

/** The SDK client's settings. Credentials and region come from the SDK's default chain unless set here. */
export function clientConfig(
  config: AwsSecretsManagerConfig,
  environment: ProviderEnvironment,
): SecretsManagerClientConfig {
  const { env } = environment;
  const settings: SecretsManagerClientConfig = {
    maxAttempts: SDK_MAX_ATTEMPTS,
    // Without these a dead connection can hang a run for minutes.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  };
  const region = configuredRegion(config, environment);
  if (region !== undefined) settings.region = region;
  if (config.endpoint !== undefined) settings.endpoint = config.endpoint;
  // The SDK's default chain reads these from process.env first. The engine hands providers its environment
  // (process.env in production, a map in tests), so take them from there: the same variables, the same
  // precedence, and no credential settings of our own in config. Without them, the chain goes on to
  // profiles, SSO, web identity and instance or task roles as usual.
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId && secretAccessKey) {
    const sessionToken = env.AWS_SESSION_TOKEN;
    settings.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
  return settings;
}

/** The store's region, if known without asking the SDK: config, then the secret's ARN, then AWS_REGION. */
function configuredRegion(config: AwsSecretsManagerConfig, environment: ProviderEnvironment): string | undefined {
  return config.region ?? regionOfArn(config.secretId) ?? (environment.env.AWS_REGION || undefined);
}

export class AwsSecretsManagerProvider implements StoreProvider {
  readonly type = "aws-secrets-manager";
  /**
   * checkAndSet: prepare and write compare AWSCURRENT's version with the one read before, and the switch itself
   * names the version AWSCURRENT must be moved from, which Secrets Manager checks atomically. So a change by
   * someone else at any moment before the switch is refused, never overwritten.
   */
  readonly capabilities: ProviderCapabilities = {
    checkAndSet: true,
    versioned: true,
    fence: "store",
    rollbackFencesWrites: true,
  };
  readonly name: string;
  readonly secretId: string;
  readonly #endpoint: string | undefined;
  readonly #region: string | undefined;
  readonly #client: SecretsManagerClient;
  readonly #retry: RetryPolicy | undefined;
  /** The run's credential type, as this store names its fields. */
  readonly #fields: StoredFields;
  readonly #error: ErrorFactory;

  constructor(config: AwsSecretsManagerConfig, environment: ProviderEnvironment, options: AwsProviderOptions = {}) {
    this.name = config.name;
    this.#error = storeErrors(config.name);
    this.secretId = config.secretId;
    this.#endpoint = config.endpoint;
    this.#region = configuredRegion(config, environment);
    this.#client = options.client ?? fencedClient(new SecretsManagerClient(clientConfig(config, environment)));
    this.#retry = options.retry;
    this.#fields = new StoredFields(environment.credential, "json", config.fields);
  }

  /**
   * The secret's ARN, as Secrets Manager reports it (so a secret named by its name in one config and by its
   * ARN in another is one store), at the endpoint's resolved address. When the secret cannot be described
   * (unreachable, no permission), the region the SDK resolves and the configured id stand in.
   */
  readonly identity = once(async (): Promise<StoreIdentity> => {
    const endpoint = this.#endpoint === undefined ? "aws" : await canonicalOrigin(this.#endpoint);
    let where: string;
    try {
      where = this.#arnOf(await this.#describeSecret());
    } catch {
      const region = await this.#resolvedRegion().catch(() => this.#region ?? "default-region");
      where = this.secretId.startsWith("arn:") ? this.secretId : `${region}/${this.secretId}`;
      if (!this.secretId.startsWith("arn:")) {
        return { key: `aws-secrets-manager:${endpoint}/${where}`, display: this.describe(), unresolved: true };
      }
    }
    return { key: `aws-secrets-manager:${endpoint}/${where}`, display: this.describe() };
  });

  describe(): string {
    const where = this.#region ?? "the AWS SDK's default region";
    const endpoint = this.#endpoint ? `, endpoint ${this.#endpoint}` : "";
    return `AWS Secrets Manager secret ${this.secretId} (${where}${endpoint})`;
  }

  async preflight(): Promise<ProviderPreflight> {
    const secret = await this.#describeSecret();
    const labels = this.#usableLabels(secret, undefined);
    const snapshot = await this.read();
    const region = await this.#resolvedRegion();
    const notes: string[] = [];

    const kms = secret.KmsKeyId ? ` and kms:GenerateDataKey on its KMS key ${secret.KmsKeyId}` : "";
    notes.push(
      `Secrets Manager has no dry run, so rotator cannot prove it may write secret ${this.secretId} without ` +
        `writing it: the rotation needs secretsmanager:PutSecretValue and secretsmanager:UpdateSecretVersionStage ` +
        `on it${kms}.`,
    );
    if (snapshot.credential === undefined) {
      notes.push(
        `secret ${this.secretId} holds no complete ${this.#fields.type} credential yet; the first write adds the fields ` +
          `${this.#fields.names.join(", ")} and keeps the others.`,
      );
    }
    if (labels.pending !== undefined && labels.pending === labels.current) {
      notes.push(
        `an ${AWSPENDING} label sits on the current version of secret ${this.secretId} (left by an earlier ` +
          "rotation); the write takes it over, and a rollback puts it back.",
      );
    }
    const replicas = (secret.ReplicationStatus ?? []).map((replica) => replica.Region).filter(Boolean);
    if (replicas.length > 0) {
      notes.push(
        `secret ${this.secretId} is replicated to ${replicas.join(", ")}; Secrets Manager copies each new version ` +
          `there by itself, and rotator reads and checks only ${region}.`,
      );
    }
    return { snapshot, notes };
  }

  async read(): Promise<StoreSnapshot> {
    const response = await this.#call(`read the ${AWSCURRENT} value`, async () => {
      try {
        return await this.#client.send(
          new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: AWSCURRENT }),
          this.#sendOptions(),
        );
      } catch (error) {
        if (awsCode(error) !== "ResourceNotFoundException") throw error;
        // Not found is either no secret (DescribeSecret fails too, and says so) or a secret with no value yet.
        await this.#client.send(new DescribeSecretCommand({ SecretId: this.secretId }), this.#sendOptions());
        return undefined;
      }
    });
    if (response?.VersionId === undefined) return { credential: undefined, version: undefined };
    const text = this.#textOf(response, response.VersionId);
    return {
      credential: this.#fields.fromStore(this.#objectOf(text, response.VersionId)),
      version: response.VersionId,
    };
  }

  async prepare(expected: StoreSnapshot, _ctx: WriteContext): Promise<RestorePoint> {
    const secret = await this.#describeSecret();
    const labels = this.#usableLabels(secret, undefined);
    if (labels.current !== expected.version) {
      throw this.#error(
        "needs-operator",
        `secret ${this.secretId} changed after rotator read it (${AWSCURRENT} was version ` +
          `${expected.version ?? "none"}, now ${labels.current}); someone else may be rotating it. Run again once ` +
          "it is settled.",
      );
    }
    const point: AwsRestorePoint = {
      secretArn: this.#arnOf(secret),
      previousVersionId: labels.current,
      previousLabelVersionId: labels.previous ?? null,
      pendingOnPrevious: labels.pending === labels.current,
    };
    return point;
  }

  async write(next: StoredCredential, restorePoint: RestorePoint, ctx: WriteContext): Promise<string | undefined> {
    assertCredentialKind(next, this.#fields.type, this.#error);
    const point = this.#restorePoint(restorePoint);
    const ours = versionIdFor(ctx.runId, this.#fields.writeKey(next));
    const secret = await this.#describeSecret();
    this.#checkSameSecret(point, secret);
    const labels = this.#usableLabels(secret, ours);

    if (labels.current === ours) {
      // Written before (a retry, or a resume): make sure it holds what this run meant, and finish tidying.
      const held = this.#fields.fromStore(this.#objectOf(await this.#getVersion(ours), ours));
      if (held === undefined || !sameCredential(held, next)) {
        throw this.#error(
          "needs-operator",
          `version ${ours} of secret ${this.secretId}, which rotator made for this run, is ${AWSCURRENT} but holds ` +
            "another credential; check which credential the secret should hold.",
        );
      }
      if (labels.pending === ours) await this.#moveLabel(AWSPENDING, ours, undefined, "unstage");
      return ours;
    }
    if (labels.current !== point.previousVersionId) {
      throw this.#error(
        "needs-operator",
        `secret ${this.secretId} changed after rotator prepared it (${AWSCURRENT} was version ` +
          `${point.previousVersionId}, now ${labels.current}); someone else may be rotating it. Rotator did not ` +
          "write it.",
      );
    }

    // Built on the version being replaced, read by id: versions never change, so this is exactly what it holds.
    const base = this.#objectOf(await this.#getVersion(point.previousVersionId), point.previousVersionId);
    const text = withCredential(base, next, this.#fields);
    await this.#stage(ours, text, Object.hasOwn(secret.VersionIdsToStages ?? {}, ours));
    await this.#switchTo(ours, point.previousVersionId);
    const after = labelsOf((await this.#describeSecret()).VersionIdsToStages);
    if (after.pending === ours) await this.#moveLabel(AWSPENDING, ours, undefined, "unstage");
    return ours;
  }

  async rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    const key = await this.#undoneWriteKey(ctx);
    const ours = versionIdFor(ctx.runId, key);
    const restore = restoreVersionIdFor(ctx.runId, key);
    for (let attempt = 1; ; attempt++) {
      const secret = await this.#describeSecret();
      this.#checkSameSecret(point, secret);
      const { current } = this.#consistentLabels(secret);
      const stages = secret.VersionIdsToStages ?? {};
      // What AWSCURRENT held before the run: versions never change, so this is exactly what to put back.
      const before = await this.#getVersion(point.previousVersionId);
      if (current === restore || (current === ours && (await this.#getVersion(ours)) === before)) {
        await this.#relabelAfterRestore(point, current, [ours, restore]);
        return; // restored already
      }
      if (current !== ours && current !== point.previousVersionId) {
        throw this.#error(
          "needs-operator",
          `secret ${this.secretId} is now on version ${current ?? "none"}, neither the one rotator wrote ` +
            `(${ours}) nor the one from before the run (${point.previousVersionId}): someone else changed it, so ` +
            "rotator left it alone. Check which credential it should hold; to go back to the one from before the run: " +
            `aws secretsmanager update-secret-version-stage --secret-id ${shellQuote(this.secretId)} ` +
            `--version-stage ${AWSCURRENT} --move-to-version-id ${point.previousVersionId} ` +
            `--remove-from-version-id ${current ?? "<current version>"}`,
        );
      }
      // Where the old value goes: a new version, never the old one again, so that a switch of this run still on
      // its way (RemoveFromVersionId: the version from before the run) finds AWSCURRENT gone from there and fails.
      // When the run's own version was never staged, the old value takes its id: a PutSecretValue of the run
      // still on its way then finds the id taken with another value, and AWS refuses it.
      let target = current === point.previousVersionId && (stages[ours] ?? []).length === 0 ? ours : restore;
      if ((await this.#putPending(target, before, Object.hasOwn(stages, target), "restore-stage")) === "other value") {
        if (target === restore) throw this.#restoreTaken(restore);
        target = restore;
        const staged = await this.#putPending(restore, before, Object.hasOwn(stages, restore), "restore-stage");
        if (staged === "other value") throw this.#restoreTaken(restore);
      }
      try {
        await this.#moveLabel(AWSCURRENT, current, target, "restore-switch");
      } catch (error) {
        // AWSCURRENT moved meanwhile: this run's own switch landing late is the one move that can cross this one
        // under the lock. Decide again from what the secret holds now (anyone else's change is refused above).
        const crossed = error instanceof StoreError && error.kind === "needs-operator";
        if (crossed && !(error instanceof StoreFenceError) && attempt < 3) continue;
        throw error;
      }
      await this.#relabelAfterRestore(point, target, [ours, restore]);
      return;
    }
  }

  /**
   * After the restore, the other labels as they were before the run: AWSPREVIOUS back on the version it was on
   * (AWS moved it to the version AWSCURRENT left), AWSPENDING on the current version if it sat on the current one
   * before the run, else nowhere. Only labels on this run's versions (or the one from before) are moved: one
   * someone else put elsewhere since is theirs.
   */
  async #relabelAfterRestore(point: AwsRestorePoint, restored: string, runVersions: string[]): Promise<void> {
    const labels = this.#consistentLabels(await this.#describeSecret());
    const ours = new Set([restored, point.previousVersionId, ...runVersions]);
    const wanted: Array<[string, string | undefined, string | undefined]> = [
      [AWSPENDING, labels.pending, point.pendingOnPrevious ? restored : undefined],
      [AWSPREVIOUS, labels.previous, point.previousLabelVersionId ?? undefined],
    ];
    for (const [stage, now, home] of wanted) {
      if (now !== home && (now === undefined || ours.has(now))) await this.#moveLabel(stage, now, home, "relabel");
    }
  }

  #restoreTaken(versionId: string): StoreError {
    return this.#error(
      "needs-operator",
      `version ${versionId} of secret ${this.secretId}, which rotator makes to put back the value from before this ` +
        "run, already exists with another value; rotator did not make it current. Check the secret's versions.",
    );
  }

  /**
   * Nothing was kept aside: the old value stays in the secret's history (AWSPREVIOUS), as after any AWS rotation.
   * Only an AWSPENDING label this run's write left on the version it made current (a crash between the switch
   * and the tidy-up, after which `resume` finds the store written and does not write again) is taken off. The
   * version is known by its id, derived from the run and the new key: a label on any other version, another
   * rotator run's included, is not this run's to remove.
   */
  async release(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    if (ctx.newKeyId === "") return; // no key, so nothing was written
    const ours = versionIdFor(ctx.runId, await this.#undoneWriteKey(ctx));
    const secret = await this.#describeSecret();
    if (secret.ARN !== point.secretArn) return;
    const { current, pending } = labelsOf(secret.VersionIdsToStages);
    if (current !== ours || pending !== ours) return;
    // The run's id holding the old value is a rollback's restore, whose AWSPENDING is where it was before the run.
    if ((await this.#getVersion(ours)) === (await this.#getVersion(point.previousVersionId))) return;
    await this.#moveLabel(AWSPENDING, ours, undefined, "unstage");
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  /**
   * The write key of the write being undone. Unknown (the new secret lost in a crash), the one whose version the
   * secret has (a run made at most one of them), else the plain id.
   */
  async #undoneWriteKey(ctx: UndoContext): Promise<string> {
    const keys = undoneWriteKeys(this.#fields, ctx);
    if (keys.length === 1) return keys[0] as string;
    const stages = (await this.#describeSecret()).VersionIdsToStages ?? {};
    return keys.find((key) => Object.hasOwn(stages, versionIdFor(ctx.runId, key))) ?? (keys[0] as string);
  }

  // ------------------------------------------------------------------------------------------- steps

  /** PutSecretValue as AWSPENDING under our version id, then read it back and compare. */
  async #stage(versionId: string, text: string, exists: boolean): Promise<void> {
    if ((await this.#putPending(versionId, text, exists, "stage")) === "other value") {
      throw this.#error(
        "needs-operator",
        `version ${versionId} of secret ${this.secretId}, the one rotator makes for this run's new credential, ` +
          "already exists with another value (a run interrupted before the secret changed under it?); rotator " +
          "did not make it current. Check the secret's versions before running again.",
      );
    }
  }

  /**
   * PutSecretValue of `text` as version `versionId`, labelled AWSPENDING (so no reader sees it), unless it exists;
   * then whether the version holds `text`. Versions never change, so a version that exists with another value
   * stays as it is: AWS refuses the token (ResourceExistsException), and a version that exists is compared
   * rather than written again, since moto overwrites an AWSPENDING version whose token is reused (moto bug 3).
   */
  async #putPending(versionId: string, text: string, exists: boolean, op: string): Promise<"holds it" | "other value"> {
    if (!exists) {
      await storeChange(op, () =>
        this.#call(`put version ${versionId} as ${AWSPENDING}`, async () => {
          try {
            await this.#client.send(
              new PutSecretValueCommand({
                SecretId: this.secretId,
                SecretString: text,
                ClientRequestToken: versionId,
                VersionStages: [AWSPENDING],
              }),
              this.#sendOptions(),
            );
          } catch (error) {
            // The version exists already (an earlier attempt whose labels are gone, so DescribeSecret did not list
            // it): AWS refuses a token reused with another value. Whatever it holds is compared below.
            if (awsCode(error) !== "ResourceExistsException") throw error;
          }
        }),
      );
    }
    return (await this.#getVersion(versionId)) === text ? "holds it" : "other value";
  }

  /**
   * Move AWSCURRENT from the version prepare saw to our staged one. If someone else moved it first, the service
   * refuses; then our version is unstaged again, so the secret is exactly as they left it and no stray AWSPENDING
   * blocks the next rotation (rollback cannot take it off: it leaves a secret someone else changed alone).
   */
  async #switchTo(ours: string, from: string): Promise<void> {
    try {
      await this.#moveLabel(AWSCURRENT, from, ours, "switch");
    } catch (error) {
      if (!(error instanceof StoreError) || error.kind !== "needs-operator") throw error;
      try {
        await this.#moveLabel(AWSPENDING, ours, undefined, "unstage");
      } catch (unstageError) {
        if (unstageError instanceof StoreFenceError) throw unstageError;
        throw this.#error(
          "needs-operator",
          `someone else moved ${AWSCURRENT} of secret ${this.secretId} away from version ${from} before rotator ` +
            `switched it, so rotator did not make its version ${ours} current; nor could it take ${AWSPENDING} off ` +
            "that version again. Check which credential the secret should hold, then remove the label: aws " +
            `secretsmanager update-secret-version-stage --secret-id ${shellQuote(this.secretId)} ` +
            `--version-stage ${AWSPENDING} --remove-from-version-id ${ours}`,
          unstageError,
        );
      }
      throw error;
    }
  }

  /**
   * UpdateSecretVersionStage: move `stage` from version `from` to version `to` (either may be undefined: attach, or
   * remove). Safe to repeat: after a failure it looks where the label is, so an attempt whose answer was lost is
   * not mistaken for a refusal, and a label someone else moved is reported, not fought over.
   */
  async #moveLabel(stage: string, from: string | undefined, to: string | undefined, op: string): Promise<void> {
    const action =
      to === undefined
        ? `remove ${stage} from version ${from}`
        : `move ${stage} to version ${to}${from ? ` from ${from}` : ""}`;
    // A change (fenced: only while this process holds the store's lock), and conditional in the store itself:
    // RemoveFromVersionId fails unless the label is on the version this process saw it on.
    await storeChange(op, () =>
      this.#call(action, async () => {
        try {
          await this.#client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: this.secretId,
              VersionStage: stage,
              ...(from === undefined ? {} : { RemoveFromVersionId: from }),
              ...(to === undefined ? {} : { MoveToVersionId: to }),
            }),
            this.#sendOptions(),
          );
        } catch (error) {
          if (error instanceof StoreError) throw error;
          const { VersionIdsToStages } = await this.#client.send(
            new DescribeSecretCommand({ SecretId: this.secretId }),
            this.#sendOptions(),
          );
          const holder = holderOf(VersionIdsToStages, stage);
          if (holder === to) return;
          if (holder !== from) {
            throw this.#error(
              "needs-operator",
              `${stage} of secret ${this.secretId} is on version ${holder ?? "none"}, not ${from ?? "none"}, while ` +
                `rotator was moving it to ${to ?? "no version"}: someone else is changing the secret.`,
              safeCause(error),
            );
          }
          throw error;
        }
      }),
    );
  }

  /** The SDK options of every request: the store call's AbortSignal, so nothing outlives its deadline. */
  #sendOptions(): { abortSignal?: AbortSignal } {
    const signal = callSignal();
    return signal === undefined ? {} : { abortSignal: signal };
  }

  // ------------------------------------------------------------------------------------------- reads

  async #describeSecret(): Promise<DescribeSecretCommandOutput> {
    return this.#call("look up", () =>
      this.#client.send(new DescribeSecretCommand({ SecretId: this.secretId }), this.#sendOptions()),
    );
  }

  async #getVersion(versionId: string): Promise<string> {
    const response = await this.#call(`read version ${versionId}`, () =>
      this.#client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionId: versionId }),
        this.#sendOptions(),
      ),
    );
    return this.#textOf(response, versionId);
  }

  #textOf(response: { SecretString?: string | undefined; SecretBinary?: Uint8Array | undefined }, versionId: string) {
    if (response.SecretString !== undefined) return response.SecretString;
    throw this.#error(
      "fatal",
      `version ${versionId} of secret ${this.secretId} holds binary data (SecretBinary); rotator stores the ` +
        "credential as a JSON object in SecretString.",
    );
  }

  #objectOf(text: string, versionId: string): SecretObject {
    const object = parseSecretObject(text);
    if (object !== undefined) return object;
    // Never quote the text or the parser's message: both are the secret.
    const fields = this.#fields.names.map((field) => `"${field}": "..."`);
    throw this.#error(
      "fatal",
      `version ${versionId} of secret ${this.secretId} is not a JSON object, so rotator cannot keep what else it ` +
        `holds. Store the credential as JSON, such as {${fields.join(", ")}}.`,
    );
  }

  // ------------------------------------------------------------------------------------------- checks

  /** The labels, refusing a secret rotator must not write: see each message. */
  #usableLabels(secret: DescribeSecretCommandOutput, ours: string | undefined): Labels & { current: string } {
    const region = this.#region ?? "its region";
    if (secret.DeletedDate !== undefined) {
      throw this.#error(
        "fatal",
        `secret ${this.secretId} is scheduled for deletion; restore it first: aws secretsmanager restore-secret ` +
          `--secret-id ${shellQuote(this.secretId)}${this.#region ? ` --region ${this.#region}` : ""}`,
      );
    }
    if (secret.RotationEnabled === true) {
      const { ScheduleExpression: expression, AutomaticallyAfterDays: days } = secret.RotationRules ?? {};
      const details = [
        secret.RotationLambdaARN ? `Lambda ${secret.RotationLambdaARN}` : undefined,
        expression ? `schedule ${expression}` : days ? `every ${days} days` : undefined,
      ].filter((detail) => detail !== undefined);
      const how = details.length > 0 ? ` (${details.join(", ")})` : "";
      throw this.#error(
        "needs-operator",
        `secret ${this.secretId} has AWS-managed rotation turned on${how}: ` +
          "AWS's rotation and rotator would each replace the credential the other wrote, and revoke keys the other " +
          "still relies on. To let rotator manage it, turn AWS rotation off: aws secretsmanager cancel-rotate-secret " +
          `--secret-id ${shellQuote(this.secretId)}${this.#region ? ` --region ${this.#region}` : ""}; or leave ` +
          "this secret to AWS rotation and remove it from rotator's stores.",
      );
    }
    const labels = this.#consistentLabels(secret);
    const { current, pending } = labels;
    if (current === undefined) {
      throw this.#error(
        "fatal",
        `secret ${this.secretId} in ${region} has no value yet, so there is no version to roll back to. Give it ` +
          `one first: aws secretsmanager put-secret-value --secret-id ${shellQuote(this.secretId)} ` +
          "--secret-string '{}'",
      );
    }
    if (pending !== undefined && pending !== current && pending !== ours) {
      const byRotator = isRotatorVersion(pending)
        ? " It was staged by an interrupted rotator run: run `rotator resume` (or `rotator rollback`) for it first."
        : " Another rotation may be in progress.";
      throw this.#error(
        "needs-operator",
        `secret ${this.secretId} has a version staged as ${AWSPENDING} (${pending}) that is not current.${byRotator} ` +
          "If it is abandoned, remove the label: aws secretsmanager update-secret-version-stage " +
          `--secret-id ${shellQuote(this.secretId)} --version-stage ${AWSPENDING} --remove-from-version-id ${pending}`,
      );
    }
    return { ...labels, current };
  }

  #consistentLabels(secret: DescribeSecretCommandOutput): Labels {
    const labels = labelsOf(secret.VersionIdsToStages);
    if (labels.duplicated.length > 0) {
      throw this.#error(
        "needs-operator",
        `secret ${this.secretId} has ${labels.duplicated.join(" and ")} on more than one version, which Secrets ` +
          "Manager never does by itself; check its versions (aws secretsmanager describe-secret).",
      );
    }
    return labels;
  }

  #checkSameSecret(point: AwsRestorePoint, secret: DescribeSecretCommandOutput): void {
    const arn = this.#arnOf(secret);
    if (arn === point.secretArn) return;
    throw this.#error(
      "needs-operator",
      `the restore point is for secret ${point.secretArn}, but "${this.secretId}" is now ${arn} (recreated, or the ` +
        "config changed); rotator did not touch it. Check which secret should hold the credential.",
    );
  }

  #arnOf(secret: DescribeSecretCommandOutput): string {
    if (secret.ARN) return secret.ARN;
    throw this.#error("fatal", `DescribeSecret returned no ARN for secret ${this.secretId}.`);
  }

  #restorePoint(restorePoint: RestorePoint): AwsRestorePoint {
    return parseRestorePoint(restorePointSchema, restorePoint, this.#error);
  }

  // ------------------------------------------------------------------------------------------- errors

  /**
   * One logical call, retried (with backoff, a few times) while it fails in a passing way. Anything it throws is a
   * StoreError: the SDK's errors are classified once, here.
   */
  async #call<T>(action: string, operation: () => Promise<T>): Promise<T> {
    return withRetries(
      async () => {
        try {
          return await operation();
        } catch (error) {
          throw error instanceof StoreError ? error : await this.#awsError(error, action);
        }
      },
      { policy: this.#retry },
    );
  }

  async #awsError(error: unknown, action: string): Promise<StoreError> {
    const region = await this.#resolvedRegion();
    const failure = classifyAwsError(error, { secretId: this.secretId, region });
    return this.#error(
      failure.kind,
      `cannot ${action} (secret ${this.secretId}, ${region}): ${failure.explanation}`,
      safeCause(error),
    );
  }

  async #resolvedRegion(): Promise<string> {
    if (this.#region !== undefined) return this.#region;
    try {
      return await this.#client.config.region();
    } catch {
      return "no region configured";
    }
  }
}

/**
 * The SDK client with the store-call fence's last check (providers/store-call.ts) inside its retry loop, after
 * signing: the last moment before each attempt leaves. (A client a test hands in is used as it is.)
 */
function fencedClient(client: SecretsManagerClient): SecretsManagerClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      await beforeSend();
      return next(args);
    },
    { step: "finalizeRequest", priority: "low" },
  );
  return client;
}

/** The AWS error code of an SDK service exception (its `name`), else undefined. */
function awsCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("$fault" in error)) return undefined;
  return (error as { name?: string }).name;
}

function holderOf(versionIdsToStages: Record<string, string[]> | undefined, stage: string): string | undefined {
  return Object.entries(versionIdsToStages ?? {}).find(([, stages]) => stages.includes(stage))?.[0];
}
