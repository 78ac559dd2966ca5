/**
 * More crash points, and a crash of `resume` itself (rotate killed at A, resume killed at B, then resume
 * again). Invariant after the last resume: every store agrees, and either the new key is everywhere and the
 * seed is revoked, or the seed is everywhere and no key was added.
 */
import { describe, expect, it } from "vitest";
import { authenticates, cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();
const keySids = () => e2e.emulator.keys().map((k) => k.sid);

const combos: Array<[string, string | undefined]> = [
  ["after-verify", undefined],
  ["after-prepare:app-1", undefined],
  ["after-write:app-2", undefined],
  ["after-create", "after-rollback-started"],
  ["after-issue", "after-rollback-started"],
  ["after-write:app-1", "after-verify"],
  ["after-write:app-1", "after-write:app-2"],
  ["after-write:app-1", "after-commit"],
  ["after-write:app-1", "after-revoke-started"],
  ["after-prepare:app-2", "after-write:app-2"],
  ["after-commit", "after-revoke-started"],
];

describe("crash matrix", () => {
  for (const [first, second] of combos) {
    it(`rotate killed at ${first}${second ? `, resume killed at ${second}` : ""}, then resume`, async () => {
      const ws = await e2e.workspace(2);
      const before = keySids();
      const crashed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: first } });
      expect(crashed.signal).toBe("SIGKILL");
      if (second) {
        const r = await runCli(cliArgs(ws, "resume"), { env: { ...ws.env, ROTATOR_FAILPOINT: second } });
        expect(r.signal, r.stderr).toBe("SIGKILL");
      }
      const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      const result = JSON.parse(resumed.stdout);
      const [a, b] = await Promise.all(ws.storeFiles.map(readStoreKey));
      expect(b).toEqual(a);
      if (result.status === "completed") {
        expect(resumed.code).toBe(0);
        expect(await authenticates(e2e.emulator, a!.sid!, a!.secret!)).toBe(true);
        expect(keySids()).not.toContain(ws.seeded.sid);
        expect(keySids().filter((s) => !before.includes(s))).toEqual([a!.sid]);
      } else {
        expect(result.status, resumed.stderr).toBe("rolled-back");
        expect(a).toEqual({ sid: ws.seeded.sid, secret: ws.seeded.secret });
        expect(keySids().sort()).toEqual([...before].sort());
      }
      const again = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      expect(JSON.parse(again.stdout).status).toBe("nothing-to-resume");
    });
  }
});
