/**
 * The one contract every secret-store provider implements.
 *
 * The engine owns the order of steps, the journal and the decision to roll back; a provider owns how to
 * read, write, read back and undo its own store. Everything a provider returns that the engine journals
 * (snapshots' versions, restore points) must be free of secret values: the journal is an audit trail that
 * anyone with read access to the state directory may see.
 */

import { createHash } from "node:crypto";
import type { StoreIdentity } from "./identity.js";

export type { StoreIdentity } from "./identity.js";

/**
 * A credential as it lives in a store: its type (`kind`, the config's `credential.type`) and its fields by the
 * type's own keys (`accountSid`, `apiKeySid`, ...). Providers never interpret the fields: they store each under
 * the name the store entry gives it (./fields.ts) and read them back. What the fields mean is the credential
 * type's to know (src/credentials/<type>/).
 */
export type StoredCredential = { readonly kind: string; readonly accountSid: string } & {
  readonly [field: string]: string;
};

/** One field of a credential type, as a store sees it. */
export interface StoredField {
  /** Its key in a StoredCredential and in a store entry's `fields:` ("apiKeySecret"). */
  readonly key: string;
  /** The value is a secret: never in a message, the journal or a snapshot. */
  readonly secret: boolean;
  /** Its name in a store holding a JSON object or a key-value map (AWS, Vault, Azure), unless `fields:` renames it. */
  readonly json: string;
  /** Its name in a store of environment variables (a dotenv file, a Kubernetes Secret), unless `fields:` renames it. */
  readonly dotenv: string;
  /**
   * A credential may lack it (an Auth Token's previous token, held only while a rotation runs): a store without
   * it still holds the credential, and writing a credential that lacks it removes it from the store.
   */
  readonly optional?: boolean;
}

/**
 * What a store provider knows of the credential type a run rotates (the type's definition is one): which fields
 * to write and read, and the id of a credential it holds (a rollback compares it with the run's). Handed to a
 * provider in its ProviderEnvironment.
 */
export interface CredentialLayout {
  /** The credential type (`credential.type`); a store holds a credential of one type. */
  readonly type: string;
  /** Its fields, `accountSid` first, in the order messages list them. */
  readonly fields: readonly StoredField[];
  /** The credential's id: safe to journal and show masked (a key SID, a token's fingerprint). */
  id(credential: StoredCredential): string;
}

/** What the engine knows about a store's current content without holding on to the secret. */
export interface StoreSnapshot {
  /**
   * The credential the store holds now, or undefined if the store holds none (empty file, no secret, or
   * the secret lacks the configured fields). Holds a secret: the engine keeps it in memory only.
   */
  credential: StoredCredential | undefined;
  /**
   * The store's own version marker of that content (AWS VersionId, Vault version number, Azure version id,
   * a content hash for files), or undefined when the store does not exist yet. Never a secret.
   */
  version: string | undefined;
}

/**
 * What a provider promises about its store. Each is read by something that acts on it or holds the provider to it:
 * `fence` by the engine (what `plan` says about fencing, engine/fence.ts); `checkAndSet`, `versioned` and
 * `rollbackFencesWrites` by the contract suite, which declares the cases that prove each one true
 * (test/provider-contract/cases). A promise nothing reads is not kept here.
 */
export interface ProviderCapabilities {
  /**
   * Writes are conditional on the version read before (Vault CAS, AWS label moves, a Secret's resourceVersion):
   * a change by someone else after preflight is refused with a `needs-operator` StoreError, never overwritten.
   * The engine relies on any store's refusal being `needs-operator` with nothing overwritten, whichever way the
   * store makes it (engine/store-failure.ts); where this is true, the suite proves it against races.
   */
  checkAndSet: boolean;
  /** The store keeps earlier versions that can be read back by id. */
  versioned: boolean;
  /**
   * What stops a change this process sent from landing after it lost the store's lock (a host frozen mid-call
   * whose run another host took over). `store`: the store itself refuses it, by a condition the change carries
   * (AWS label moves naming the version the label is on, Vault check-and-set, a dotenv file's replacement that
   * needs a temp file the next lock holder removes). `deadline`: the store offers no condition, so only the lock
   * check right before each request and the call's deadline stand in the way, and a request already on its way
   * can still land (Key Vault; README, "Fencing").
   */
  fence: "store" | "deadline";
  /**
   * A rollback moves the store to a new version that the run's own writes are conditional against, so after it
   * no write of the run (one still on its way, or retried) can land: AWS, Vault.
   */
  rollbackFencesWrites: boolean;
}

/**
 * A JSON-serialisable, secret-free record of how to put a store back the way it was before a run wrote it.
 * Journaled before the write starts, so that `resume` after a crash can undo a write it never saw finish.
 * Examples: `{ versionId: "..." }` for AWS, `{ version: 7 }` for Vault, `{ backupPath: "..." }` for a file.
 */
export type RestorePoint = Readonly<Record<string, string | number | boolean | null>>;

/** Context the engine passes to every mutating call. */
export interface WriteContext {
  /** The run's id; providers derive idempotency tokens (AWS ClientRequestToken) and tags from it. */
  runId: string;
}

/** What `rollback` and `release` are told of the write they undo or tidy up after. */
export interface UndoContext extends WriteContext {
  /** The id of the credential the run wrote (`credentialId()`); "" when the run never got as far as creating one. */
  newKeyId: string;
  /**
   * The whole credential the write made current, when the engine knows it (it may not after a crash that lost
   * the new secret). A store holds the run's write only if it holds exactly this, every field compared: an Auth
   * Token rotation writes the same token twice, first with its previous token beside it, then without, so the id
   * alone cannot tell the two writes apart. Unknown, a provider compares the id.
   */
  written?: StoredCredential;
}

export interface ProviderPreflight {
  /** The current content, as `read()` would return it. */
  snapshot: StoreSnapshot;
  /** Human-readable findings that do not stop the run (for `plan`), never containing a secret. */
  notes: string[];
}

/**
 * A store another system fills from another store of the run (External Secrets Operator keeping a Kubernetes
 * Secret in step with an AWS secret). Rotator never prepares, writes or rolls it back: once the stores it writes
 * hold the new credential, the engine asks for a refresh and waits, bounded, until this one holds it too (and,
 * on rollback, the old one again).
 */
export interface StoreSync {
  /** The config name of the store it follows. */
  readonly from: string;
  /** How long it may take to follow, in seconds. */
  readonly timeoutSeconds: number;
  /** Ask the other system to refresh now; says what it did, for people. Never throws for a refused request. */
  request(runId: string): Promise<string>;
}

export interface StoreProvider {
  /** The store's name from config (`stores[].name`). Used in every message. */
  readonly name: string;
  /** The provider type, equal to its folder name under providers/ and to `stores[].type` in config. */
  readonly type: string;
  readonly capabilities: ProviderCapabilities;
  /** Set when another system fills this store (see StoreSync): the engine waits for it instead of writing it. */
  readonly sync?: StoreSync;
  /** A short, secret-free description of where the secret lives, e.g. `file /etc/app/twilio.env`. */
  describe(): string;

  /**
   * What the store is, independent of how the config writes it (see ./identity.ts): the key locks and
   * every cross-run check compare. Must not throw for an unreachable store (fall back to what the config
   * says, lowercased and normalised), because `resume` and `rollback` need it exactly then.
   */
  identity(): Promise<StoreIdentity>;

  /**
   * Check the store is reachable, readable and writable, without changing it, and return what it holds.
   * Throws a StoreError (see ./errors.ts) describing what is wrong and how to fix it.
   */
  preflight(): Promise<ProviderPreflight>;

  /** Read the current content. */
  read(): Promise<StoreSnapshot>;

  /**
   * Record how to undo a write of this store, before anything is written (a backup, a version id). Must not
   * change what readers of the store see. `expected` is the snapshot the run's preflight read: a provider
   * with check-and-set uses its version to refuse a write if someone else changed the store in between. A run
   * that writes the store a second time (an Auth Token's retire write) releases the first restore point first,
   * then prepares again from what the first write left.
   */
  prepare(expected: StoreSnapshot, ctx: WriteContext): Promise<RestorePoint>;

  /**
   * Make `next` the store's current value. Keeps every other field or line the store holds, and removes the
   * credential's optional fields `next` lacks (StoredFields.absentNames). Idempotent for the same run and value (a
   * retry or a resume may call it again): "already written" means the store holds `next`, every field compared
   * (a run may write two credentials with one id, see UndoContext.written). Returns the new version marker.
   */
  write(next: StoredCredential, restorePoint: RestorePoint, ctx: WriteContext): Promise<string | undefined>;

  /**
   * Put the store back to what `restorePoint` recorded. Idempotent, and safe to call when `write` never ran
   * or ran only partly (a crash). Must not overwrite a value written by someone other than this run: in that
   * case throw a StoreError of kind "needs-operator".
   */
  rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void>;

  /**
   * The run finished for good (completed, or rolled back): drop anything `prepare` kept aside, such as a
   * backup file holding the old secret, and tidy up what only this run's write left (an AWSPENDING label on
   * the version it made current). `newKeyId` is the id of the credential the run wrote, as for `rollback`
   * (`credentialId()`), so a provider can tell this run's leftovers from another run's without guessing; it is
   * "" when the run never got as far as creating a key. Idempotent.
   */
  release(restorePoint: RestorePoint, ctx: UndoContext): Promise<void>;

  /** Free connections and timers (and revoke a token the provider logged in for). Safe to call more than once. */
  close?(): Promise<void>;
}

/** First 16 hex characters of the SHA-256 of an auth token: safe to show, enough to compare. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex").slice(0, 16);
}
