/**
 * Secrets Manager's staging labels and the version ids rotator gives the versions it writes.
 *
 * A secret's versions are immutable; which one readers get is decided by labels. AWSCURRENT is what a plain
 * GetSecretValue returns, AWSPREVIOUS follows the version AWSCURRENT was moved away from, and AWSPENDING marks a
 * version being rotated in. Each label sits on at most one version.
 */
import { createHash } from "node:crypto";

export const AWSCURRENT = "AWSCURRENT";
export const AWSPREVIOUS = "AWSPREVIOUS";
export const AWSPENDING = "AWSPENDING";

/**
 * The ClientRequestToken, and so the VersionId, of the version a run writes for one new credential. Derived from
 * the run id and the credential's id (a key SID, or a token fingerprint), never from a secret, so a retry or a
 * `resume` asks for the same version and Secrets Manager does not create a second one, and rollback can tell the
 * version this run wrote from anyone else's without reading any value. The `rotator-` prefix tells an operator
 * browsing the versions who made it. 48 characters; Secrets Manager takes 32 to 64.
 */
export function versionIdFor(runId: string, newKeyId: string): string {
  const digest = createHash("sha256").update(`rotator\0${runId}\0${newKeyId}`, "utf8").digest("hex");
  return `rotator-${digest.slice(0, 40)}`;
}

/**
 * The version a rollback of that run writes the old value back as (when the run's own id is not free for it):
 * derived the same way, so two rollbacks of one run (a resume after a crash, another host after a takeover) make
 * one version, and never the id of a version the run's write could make current.
 */
export function restoreVersionIdFor(runId: string, newKeyId: string): string {
  return versionIdFor(runId, `restore\0${newKeyId}`);
}

/** A version some rotator run wrote (AWS's own ids are UUIDs). */
export function isRotatorVersion(versionId: string): boolean {
  return /^rotator-[0-9a-f]{40}$/.test(versionId);
}

/** Where the three AWS labels sit. A version without labels is deprecated history and is ignored. */
export interface Labels {
  current: string | undefined;
  previous: string | undefined;
  pending: string | undefined;
  /** Labels found on more than one version: real AWS never does this, an emulator bug can. */
  duplicated: string[];
}

export function labelsOf(versionIdsToStages: Readonly<Record<string, readonly string[]>> | undefined): Labels {
  const holders = new Map<string, string[]>();
  for (const [versionId, stages] of Object.entries(versionIdsToStages ?? {})) {
    for (const stage of new Set(stages)) holders.set(stage, [...(holders.get(stage) ?? []), versionId]);
  }
  const only = (stage: string) => holders.get(stage)?.[0];
  return {
    current: only(AWSCURRENT),
    previous: only(AWSPREVIOUS),
    pending: only(AWSPENDING),
    duplicated: [AWSCURRENT, AWSPREVIOUS, AWSPENDING].filter((stage) => (holders.get(stage)?.length ?? 0) > 1),
  };
}
