/**
 * The issuer contract: everything the engine needs from Twilio for one credential type. The engine never
 * talks to Twilio directly, so a second credential type (auth tokens) is a second implementation.
 */
import type { CredentialKind, StoredCredential } from "../../providers/contract.js";

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
  createdAt: Date;
}

export interface VerifyOutcome {
  attempts: number;
  elapsedMs: number;
}

/** How messages name what an issuer makes. */
export interface CredentialLabels {
  /** "key", "token": in "the new key", "the old token". */
  noun: string;
  /** "API key", "auth token": in "creating a new API key". */
  long: string;
}

export interface Issuer {
  readonly kind: CredentialKind;
  readonly labels: CredentialLabels;
  /** The friendly name a run gives what it creates, so an orphan of a crashed run can be found again. */
  friendlyNameFor(runId: string): string;
  /** Throws a PreflightError with likely causes when the admin credential does not authenticate. */
  checkAdmin(): Promise<void>;
  /** Metadata of an existing credential, or undefined when Twilio does not know it. */
  describe(id: string): Promise<CredentialInfo | undefined>;
  /** Create the new credential. The secret is returned only here. */
  issue(runId: string): Promise<IssuedCredential>;
  /**
   * Whether the check that a new credential works (`verifyAuthenticates`) can succeed at all, decided before
   * anything is created: a problem sentence, or undefined. `current` (the stores' credential, of the same
   * kind) is tried where it can tell. Changes nothing.
   */
  checkCanVerify(current: StoredCredential | undefined): Promise<string | undefined>;
  /** Wait (bounded) until the credential authenticates; throws when it never does. */
  verifyAuthenticates(credential: StoredCredential): Promise<VerifyOutcome>;
  /** Ids of credentials a run created, found by friendly name (for crash recovery). */
  findCreatedBy(runId: string): Promise<string[]>;
  /** Delete a credential this run created (rollback). Absent counts as done. */
  discard(id: string): Promise<"deleted" | "absent">;
  /** Revoke the old credential by id (resume may no longer have its secret). Absent counts as done. */
  revoke(id: string): Promise<"deleted" | "absent">;
  /** True once Twilio refuses the credential with 20003 (bounded wait). */
  confirmRefused(old: StoredCredential): Promise<boolean>;
}
