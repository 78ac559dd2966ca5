/**
 * What a store claimed by another run's unfinished rotation tells the operator to run: with local state,
 * resume with that run's state directory; with PostgreSQL state, resume with a config naming the database
 * (a --state-dir would send resume to a directory that never held the journal).
 */
import { describe, expect, it } from "vitest";
import { type ClaimRecord, claimError, describeClaim } from "../../src/engine/claims.js";
import { ExitCode } from "../../src/errors.js";

const ref = {
  name: "app-a",
  identity: "dotenv-file:/srv/app-a.env",
  display: "dotenv file /srv/app-a.env",
  claimFile: "/srv/.app-a.env.rotator-claim",
};

const claim: ClaimRecord = {
  runId: "20261202T010000Z-abc123",
  stateDir: "/var/lib/rotator",
  configFile: "/etc/rotator/a.yaml",
  pid: 4242,
  host: "web-1",
  since: "2026-12-02T01:00:00.000Z",
};

describe("a claim of another run's unfinished rotation", () => {
  it("with local state: resume with that run's config and state directory", () => {
    const error = claimError(ref, { state: "unfinished", claim });
    expect(error?.exitCode).toBe(ExitCode.unfinishedRun);
    expect(error?.hint).toContain("rotator resume --config /etc/rotator/a.yaml --state-dir /var/lib/rotator");
    expect(error?.hint).toContain("state directory is gone for good, delete /srv/.app-a.env.rotator-claim");
    expect(describeClaim(claim)).toContain("state dir /var/lib/rotator");
  });

  it("with PostgreSQL state: resume with a config naming the database, never a --state-dir", () => {
    const inDatabase = { ...claim, database: "5b0c8f3e-1d2a-4c6b-9e7f-0a1b2c3d4e5f" };
    const error = claimError(ref, { state: "unfinished", claim: inDatabase });
    expect(error?.exitCode).toBe(ExitCode.unfinishedRun);
    expect(error?.hint).toContain("rotator resume --config /etc/rotator/a.yaml`");
    expect(error?.hint).toContain("PostgreSQL database");
    expect(error?.hint).not.toContain("--state-dir");
    expect(error?.hint).toContain("database is gone for good, delete /srv/.app-a.env.rotator-claim");
    expect(describeClaim(inDatabase)).toContain("state in PostgreSQL, instance 5b0c8f3e-1d2a-4c6b-9e7f-0a1b2c3d4e5f");
    expect(describeClaim(inDatabase)).not.toContain("/var/lib/rotator");
  });

  it("a live run: wait, exit 5, whatever its state", () => {
    const error = claimError(ref, { state: "live", claim: { ...claim, database: "db-1" } });
    expect(error?.exitCode).toBe(ExitCode.locked);
    expect(error?.message).toContain("another rotator run is using store app-a (dotenv file /srv/app-a.env)");
  });
});
