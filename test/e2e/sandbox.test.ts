/** The README's first command: a whole rotation on the built-in sandbox, and a plan that changes nothing. */
import { describe, expect, it } from "vitest";
import { ensureBuilt, runCli } from "./harness.js";

describe("--sandbox", () => {
  it("rotate runs the whole fixed order and the independent check confirms the outcome", async () => {
    ensureBuilt();
    const run = await runCli(["rotate", "--sandbox", "--json"], {
      env: { ...process.env, ROTATOR_FAILPOINT: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("completed");
    expect(result.stores).toEqual([
      { name: "app-a", type: "dotenv-file", outcome: "written" },
      { name: "app-b", type: "dotenv-file", outcome: "written" },
    ]);
    expect(run.stderr).toContain(`app-a.env holds ${result.newKey}`);
    expect(run.stderr).toContain(`app-b.env holds ${result.newKey}`);
    expect(run.stderr).toContain(`new key ${result.newKey}: authenticates`);
    expect(run.stderr).toContain(`old key ${result.oldKey}: refused by Twilio with 20003 (revoked)`);
    expect(run.stderr).toContain(`keys left in the account: ${result.newKey}\n`);
    expect(run.stderr + run.stdout).not.toMatch(/[0-9a-f]{32}/);
  });

  it("plan prints the steps and leaves the seeded key in place", async () => {
    const run = await runCli(["plan", "--sandbox"], { env: process.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("rotator plan (dry run: nothing was changed)");
    expect(run.stdout).toContain("no problems found");
    expect(run.stderr).toMatch(/old key SK…[0-9a-f]{4}: still authenticates/);
  });
});
