/**
 * More crash points, and a crash of `resume` itself (rotate killed at A, resume killed at B, then resume
 * again). Each point has one right ending, which follows from the resume rules (continueJournaledRun in
 * src/engine/reenter.ts), applied to what the journal holds when the last resume reads it:
 *
 * - a rollback was started: finish it (rolled back);
 * - every store was committed: carry on with consumers and the revoke (completed);
 * - the new key was never journaled: roll back, deleting it by the run's friendly name (rolled back);
 * - a store that was prepared holds the new key: recover its secret, write the rest (completed);
 * - none does: the secret is lost, roll back (rolled back).
 *
 * After it: every store agrees; completed means the new key is everywhere, it authenticates, the seed is
 * revoked and no other key was added; rolled back means the seed is everywhere and the account holds
 * exactly the keys it held before.
 */
import { describe, expect, it } from "vitest";
import { authenticates, cliArgs, readStoreKey, runCli, runJson, useE2e } from "./harness.js";

const e2e = useE2e();
const keySids = () => e2e.emulator.keys().map((k) => k.sid);

interface CrashPoint {
  /** Where rotate is killed. */
  rotate: string;
  /** Where the first resume is killed, if it is. */
  resume?: string;
  ends: "completed" | "rolled-back";
  /** Which rule the last resume followed: its reason (rolled back) or its progress line (completed). */
  because: RegExp;
}

const LOST = /^no store holds the new key SK…[0-9a-f]{4}, so its secret is lost$/;
const FINISHING_ROLLBACK = /^finishing the interrupted rollback$/;
// Progress lines show "SK..." where the locale cannot show "…".
const RECOVERED = /recovered SK(?:…|\.\.\.)[0-9a-f]{4} from a store; finishing the writes/;
const COMMITTED = /every store already holds the new key; carrying on with the revoke/;

const points: CrashPoint[] = [
  // The key is journaled and verified, but no store was prepared: nothing holds its secret.
  { rotate: "after-verify", ends: "rolled-back", because: LOST },
  // app-1's restore point is journaled, its write never happened: it still holds the seed.
  { rotate: "after-prepare:app-1", ends: "rolled-back", because: LOST },
  // Both stores hold the new key, "stores-committed" is not journaled yet.
  { rotate: "after-write:app-2", ends: "completed", because: RECOVERED },
  // The key exists in Twilio but not in the journal: resume starts a rollback (and is killed in it).
  { rotate: "after-create", resume: "after-rollback-started", ends: "rolled-back", because: FINISHING_ROLLBACK },
  // Journaled, in no store: resume starts the rollback for a lost secret (and is killed in it).
  { rotate: "after-issue", resume: "after-rollback-started", ends: "rolled-back", because: FINISHING_ROLLBACK },
  // Resume recovers the key from app-1 and is killed when it has verified it again: app-2 still unwritten.
  { rotate: "after-write:app-1", resume: "after-verify", ends: "completed", because: RECOVERED },
  // Resume writes app-2 and is killed before committing.
  { rotate: "after-write:app-1", resume: "after-write:app-2", ends: "completed", because: RECOVERED },
  // Resume commits and is killed before the revoke.
  { rotate: "after-write:app-1", resume: "after-commit", ends: "completed", because: COMMITTED },
  // Resume is killed once the revoke is journaled, before Twilio was asked.
  { rotate: "after-write:app-1", resume: "after-revoke-started", ends: "completed", because: COMMITTED },
  // app-2 was prepared (not written) by rotate; resume writes it with that restore point, killed after.
  { rotate: "after-prepare:app-2", resume: "after-write:app-2", ends: "completed", because: RECOVERED },
  { rotate: "after-commit", resume: "after-revoke-started", ends: "completed", because: COMMITTED },
];

describe("crash matrix", () => {
  for (const point of points) {
    const name = `rotate killed at ${point.rotate}${point.resume ? `, resume killed at ${point.resume}` : ""}`;
    it(`${name}, then resume: ${point.ends}`, async () => {
      const ws = await e2e.workspace(2);
      const before = keySids();
      const crashed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: point.rotate } });
      expect(crashed.signal).toBe("SIGKILL");
      if (point.resume) {
        const r = await runCli(cliArgs(ws, "resume"), { env: { ...ws.env, ROTATOR_FAILPOINT: point.resume } });
        expect(r.signal, r.stderr).toBe("SIGKILL");
      }
      const { run: resumed, result } = await runJson(cliArgs(ws, "resume"), { env: ws.env });
      const [a, b] = await Promise.all(ws.storeFiles.map(readStoreKey));
      expect(b).toEqual(a);
      expect(result.status, resumed.stderr).toBe(point.ends);
      if (point.ends === "completed") {
        expect(resumed.code).toBe(0);
        expect(resumed.stderr).toMatch(point.because);
        expect(a!.sid).not.toBe(ws.seeded.sid);
        expect(await authenticates(e2e.emulator, a!.sid!, a!.secret!)).toBe(true);
        expect(keySids()).not.toContain(ws.seeded.sid);
        expect(keySids().filter((s) => !before.includes(s))).toEqual([a!.sid]);
      } else {
        expect(resumed.code).toBe(3);
        expect(result.error).toMatch(point.because);
        expect(a).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
        expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
        expect(keySids().sort()).toEqual([...before].sort());
      }
      const { result: again } = await runJson(cliArgs(ws, "resume"), { env: ws.env });
      expect(again.status).toBe("nothing-to-resume");
    });
  }
});
