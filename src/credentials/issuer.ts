/**
 * The issuer contract: everything the engine needs from Twilio for one credential type. The engine never
 * talks to Twilio directly, so a second credential type (auth tokens) is a second implementation.
 */
import type { StoredCredential } from "../../providers/contract.js";

export interface IssuedCredential {
  /** Key SID (or token fingerprint): journaled, shown masked. */
  id: string;
  /** Holds the secret: kept in memory and written to stores, nowhere else. */
  credential: StoredCredential;
  createdAt: Date;
}

export interface CredentialInfo {
  id: string;
  friendlyName: string;
  /** When Twilio made it; undefined where Twilio does not say (an auth token's age is the journal's to know). */
  createdAt: Date | undefined;
  /**
   * Why a rotation must not start from this credential although Twilio accepts it: an auth token that is the
   * account's secondary dies the moment the rotation creates its own secondary. A whole sentence, secret-free.
   */
  notRotatable?: string;
}

/** What preflight learns from the issuer about the credential type's own conditions (plan prints them). */
export interface IssuerPreflight {
  problems: string[];
  notes: string[];
}

export interface VerifyOutcome {
  attempts: number;
  elapsedMs: number;
}

/** How messages and the journal name what an issuer makes. */
export interface CredentialLabels {
  /** "key", "token": in "the new key", "the old token". */
  noun: string;
  /** "API key", "auth token": in "creating a new API key". */
  long: string;
  /**
   * The word in journal events and fields: "key" gives `key-issued {newKeyId}` (engine/journal-words.ts). A
   * definition makes it with `journalWord()` (./journal-word.ts), and the journal checks it again when it writes.
   */
  word: string;
  /** What became of a revoked one: "deleted", "promoted away". */
  revoked: string;
}

/**
 * The account's API keys as marks rotator leaves for configs, state directories and hosts that cannot see each
 * other's journals (engine/token-slot.ts). Made with the admin credential; a mark's secret is dropped at once.
 */
export interface AccountMarks {
  list(): Promise<Array<{ sid: string; friendlyName: string; dateCreated: Date }>>;
  /** Creates a key named `friendlyName`; returns its SID (the secret is never kept). */
  create(friendlyName: string): Promise<string>;
  remove(sid: string): Promise<"deleted" | "absent">;
}

export interface Issuer {
  /** The credential type it issues (`credential.type`). */
  readonly kind: string;
  /** Auth-token issuers: the account's keys, as marks (an account's token is shared by every config of it). */
  readonly marks?: AccountMarks;
  readonly labels: CredentialLabels;
  /**
   * Whether the revoke step is needed even when Twilio no longer accepts the old credential: a key that is
   * gone needs no deleting, but a secondary token is of use only once promoted.
   */
  readonly revokeEvenWhenOldIsDead: boolean;
  /** The friendly name a run gives what it creates, so an orphan of a crashed run can be found again. */
  friendlyNameFor(runId: string): string;
  /** The create step in plan's words: `create a standard API key named "rotator-<run id>"`. */
  describeCreate(): string;
  /** The revoke step in plan's words, for the (masked) old credential. */
  describeRevoke(oldMasked: string): string;
  /** Progress as the create starts: `creating a new API key "rotator-…"`. */
  describeCreating(runId: string): string;
  /** Progress as the revoke starts: `revoking the old key SK…a1b2`. */
  describeRevoking(oldMasked: string): string;
  /** Throws a PreflightError with likely causes when the admin credential does not authenticate. */
  checkAdmin(): Promise<void>;
  /**
   * The credential type's own conditions, checked before anything is created: problems stop the run, notes
   * are shown by plan. `current` is what the stores hold. Changes nothing.
   */
  preflight(current: StoredCredential | undefined, options: { emergency: boolean }): Promise<IssuerPreflight>;
  /**
   * Metadata of an existing credential, or undefined when Twilio does not know it (or no longer uses it).
   * `credential`, when given, is the credential itself (what the stores hold): an issuer that cannot tell
   * from the id alone (an auth token other than the primary may still be the secondary) tries it.
   */
  describe(id: string, credential?: StoredCredential): Promise<CredentialInfo | undefined>;
  /**
   * Whether the check that a new credential works (`verifyAuthenticates`) can succeed at all, decided before
   * anything is created: a problem sentence, or undefined. `current` (the stores' credential, of the same
   * kind) is tried where it can tell. Changes nothing.
   */
  checkCanVerify(current: StoredCredential | undefined): Promise<string | undefined>;
  /** Create the new credential. The secret is returned only here. */
  issue(runId: string): Promise<IssuedCredential>;
  /** Wait (bounded) until the credential authenticates; throws when it never does. */
  verifyAuthenticates(credential: StoredCredential): Promise<VerifyOutcome>;
  /**
   * One call with the credential, now: true when Twilio accepts it, false when it answers 20003 (deleted,
   * replaced, promoted away). Anything else throws.
   */
  authenticatesNow(credential: StoredCredential): Promise<boolean>;
  /**
   * Ids of credentials run `runId` created that it may not have journaled (a crash mid-create, a retried
   * create). `started`: the journal says the run began creating one; `knownId`: the one it journaled.
   */
  findCreatedBy(runId: string, hint: { started: boolean; knownId: string | undefined }): Promise<string[]>;
  /**
   * What to tell the operator on deleting `id`, which findCreatedBy found but the journal never recorded:
   * `certain` when it is surely this run's (a key named after the run); otherwise it is said as a warning.
   */
  describeDiscardedUnrecorded(id: string): { text: string; certain: boolean };
  /** Delete a credential this run created (rollback). Absent counts as done. */
  discard(id: string): Promise<"deleted" | "absent">;
  /**
   * Retire the old credential (delete the old key; promote the new token over the old one). `newId` is the
   * credential that takes over. Already done counts as done ("absent").
   */
  revoke(oldId: string, newId: string | undefined): Promise<"deleted" | "absent">;
  /** True once Twilio refuses the credential with 20003 (bounded wait). */
  confirmRefused(old: StoredCredential): Promise<boolean>;
  /**
   * The run's new credential is known (issued, or recovered from a store by resume), or the operator supplied
   * a checked one (`sync`, `rotate --admin-from-env`). An issuer whose admin credential is the account's token
   * keeps it, to carry on with it once the configured one is refused. `source` says where it came from.
   */
  adoptNew(credential: StoredCredential, source?: string): void;
  /** Whether an error from `issue` means nothing was created (a refusal), so rollback has nothing to delete. */
  refusedBeforeCreating(error: unknown): boolean;
}
