/** The README's first command: a whole rotation on the built-in sandbox, and a plan that changes nothing. */
import { describe, expect, it } from "vitest";
import { ensureBuilt, root, runCli } from "./harness.js";

describe("--sandbox", () => {
  it("rotate runs the whole fixed order: three apps switch before the revoke, and not one request gets 20003", async () => {
    ensureBuilt();
    const run = await runCli(["rotate", "--sandbox", "--json"], {
      env: { ...process.env, ROTATOR_FAILPOINT: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.schemaVersion).toBe(1);
    expect(result.status).toBe("completed");
    expect(result.stores).toEqual([
      { name: "app-a", type: "dotenv-file", outcome: "written" },
      { name: "app-b", type: "dotenv-file", outcome: "written" },
    ]);
    // The consumers, with their state: every one converged on the new key.
    expect(result.consumers.map((c: { name: string; state: string }) => [c.name, c.state])).toEqual([
      ["web-1", "converged"],
      ["web-2", "converged"],
      ["worker-1", "converged"],
    ]);
    for (const consumer of result.consumers) expect(consumer.detail).toContain(result.newKey);
    // The sandbox's own check, independent of the engine.
    const { checks, apps, next } = result.sandbox as {
      checks: string[];
      apps: Array<{ name: string; requests: number; refused: number }>;
      next: string[];
    };
    expect(checks).toContain(`app-a.env holds ${result.newKey}`);
    expect(checks).toContain(`app-b.env holds ${result.newKey}`);
    expect(checks).toContain(`new key ${result.newKey}: authenticates`);
    expect(checks).toContain(`old key ${result.oldKey}: refused by Twilio with 20003 (revoked)`);
    expect(checks).toContain(`keys left in the account: ${result.newKey}`);
    expect(apps.map((app) => app.name)).toEqual(["web-1", "web-2", "worker-1"]);
    for (const app of apps) {
      expect(app.requests).toBeGreaterThan(0);
      expect(app.refused).toBe(0);
    }
    expect(next.join("\n")).toContain("rotator plan");
    // The live block showed them converging before the revoke (in a log: one line per change).
    const converged = run.stderr.indexOf("✓ worker-1: uses");
    const revoked = run.stderr.indexOf("revoking the old key");
    expect(converged).toBeGreaterThan(0);
    expect(revoked).toBeGreaterThan(converged);
    expect(run.stderr + run.stdout).not.toMatch(/[0-9a-f]{32}/);
  });

  it("the human summary goes to stdout, ends with the apps' requests and what to do next; progress stays on stderr", async () => {
    const run = await runCli(["rotate", "--sandbox"], { env: { ...process.env, ROTATOR_FAILPOINT: undefined } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ok run \S+: completed \(exit 0\)|^✓ run \S+: completed \(exit 0\)/);
    expect(run.stdout).toMatch(/web-1: \d+ requests, 0 got 20003/);
    expect(run.stdout).toContain("next, for a real setup:");
    expect(run.stdout).toContain("`rotator init dotenv-file vault-kv2`");
    expect(run.stdout).not.toContain("==>");
    expect(run.stderr).toContain("==> waiting for 3 consumer(s)");
    // No color when the output is not a terminal.
    expect(run.stdout + run.stderr).not.toContain("\u001b[");
  });

  it("--credential auth-token rotates the Auth Token while the apps call Twilio and validate the webhooks it signs: 0 × 20003, 0 rejected", async () => {
    const run = await runCli(["rotate", "--sandbox", "--credential", "auth-token", "--json"], {
      env: { ...process.env, ROTATOR_FAILPOINT: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ status: "completed", credentialType: "auth-token" });
    const { credential, checks, apps, next } = result.sandbox as {
      credential: string;
      checks: string[];
      apps: Array<{
        name: string;
        requests: number;
        refused: number;
        webhooksReceived: number;
        webhooksRejected: number;
      }>;
      next: string[];
    };
    expect(credential).toBe("auth-token");
    expect(result.sandbox.webhooks).toBe(true);
    expect(checks).toContain(`app-a.env holds ${result.newKey}`);
    expect(checks).toContain(`app-b.env holds ${result.newKey}`);
    // The previous token was retired from both files: nothing of the old token is left for validation.
    expect(checks.join("\n")).not.toContain("still holds the previous token");
    expect(checks).toContain(`new token ${result.newKey}: authenticates`);
    expect(checks).toContain(`old token ${result.oldKey}: refused by Twilio with 20003 (promoted away)`);
    expect(checks).toContain("secondary token left in the account: none");
    // What the emulator counted, independently of the apps: every webhook it sent them was accepted.
    const sent = checks.find((check) => check.startsWith("Twilio sent the apps"));
    expect(sent).toMatch(
      /^Twilio sent the apps (\d+) signed webhooks during the run: \1 accepted, 0 rejected, 0 unanswered$/,
    );
    expect(apps.map((app) => app.name)).toEqual(["web-1", "web-2", "worker-1"]);
    for (const app of apps) {
      expect(app.requests).toBeGreaterThan(0);
      expect(app.refused).toBe(0);
      expect(app.webhooksReceived).toBeGreaterThan(0);
      expect(app.webhooksRejected).toBe(0);
    }
    expect(next.join("\n")).toContain("webhookValidator");
    // The admin token comes from app-a, which the run itself rewrote with its new token: no warning after the promote.
    expect(result.warnings).toEqual([]);
    expect(run.stderr).not.toMatch(/warning: .*admin credential/);
    // Neither token (32 hex digits) is printed anywhere.
    expect(run.stderr + run.stdout).not.toMatch(/[0-9a-f]{32}/);
  });

  it("--credential auth-token: the human summary gives each app's requests, 20003s, webhooks received and rejected", async () => {
    const run = await runCli(["rotate", "--sandbox", "--credential", "auth-token"], {
      env: { ...process.env, ROTATOR_FAILPOINT: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    for (const app of ["web-1", "web-2", "worker-1"]) {
      expect(run.stdout).toMatch(
        new RegExp(`${app}: \\d+ requests, 0 got 20003; [1-9]\\d* webhooks received, 0 rejected`),
      );
    }
  });

  it("plan --credential auth-token plans the token's rotation on the sandbox, changing nothing", async () => {
    const run = await runCli(["plan", "--sandbox", "--credential", "auth-token"], { env: process.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("no problems found");
    expect(run.stdout).toContain("+ new token: create a secondary auth token");
    expect(
      run.stdout.match(/\? [0-9a-f]{2}…[0-9a-f]{4} → new token: reload and wait until it uses the new token/g),
    ).toHaveLength(3);
    // What a consumer validating webhooks must report, before the promote and after the retire (wrapped lines joined).
    expect(run.stdout.replace(/\n\s+/g, " ")).toContain(
      "if it reports the tokens it validates webhooks with, it must validate with both before the promote and with the new one only after the retire",
    );
    expect(run.stdout + run.stderr).not.toMatch(/[0-9a-f]{32}/);
  });

  it("refuses a --credential it cannot rotate, or one without --sandbox, with exit 2, changing nothing", async () => {
    const bad = await runCli(["rotate", "--sandbox", "--credential", "oauth-app"], { env: process.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'oauth-app' is invalid. Allowed choices are api-key, auth-token.");
    expect(bad.stdout).toBe("");
    const alone = await runCli(["rotate", "--credential", "auth-token", "--config", "/nonexistent/rotator.yaml"], {
      env: process.env,
    });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("--credential goes with --sandbox");
    expect(alone.stderr).toContain("credential.type");
    const planAlone = await runCli(["plan", "--credential", "api-key"], { env: process.env });
    expect(planAlone.code).toBe(2);
    expect(planAlone.stderr).toContain("--credential goes with --sandbox");
  });

  it("plan prints the steps and leaves the seeded key in place, before the sandbox is removed", async () => {
    const run = await runCli(["plan", "--sandbox"], { env: process.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("rotator plan (dry run: nothing was changed)");
    expect(run.stdout).toContain("no problems found");
    expect(run.stdout).toContain("plan: 1 key to create, 2 stores to update, 1 key to revoke");
    // The plan lists each of the 3 consumers under its own name (issue #21: a change list grouped by target).
    expect(run.stdout.match(/\? SK…[0-9a-f]{4} → new key: reload and wait until it uses the new key/g)).toHaveLength(3);
    expect(run.stdout).not.toContain("validates webhooks with");
    expect(run.stdout).toMatch(/old key SK…[0-9a-f]{4}: still authenticates/);
    // The plan was printed while its files existed: the "removed" line is the very last thing written.
    expect(run.stderr.trimEnd().split("\n").at(-1)).toMatch(/^==> sandbox: removed /);
  });
});

describe("rotator emulator twilio", () => {
  it("prints one JSON line once listening, serves the official client, and exits 0 on SIGTERM", async () => {
    ensureBuilt();
    const { spawn } = await import("node:child_process");
    const { createInterface } = await import("node:readline");
    const { createTwilioClient } = await import("../../src/twilio/client.js");
    const child = spawn(process.execPath, [`${root}/bin/rotator.js`, "emulator", "twilio", "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
    const info = JSON.parse(line) as { baseUrl: string; accountSid: string; authToken: string };
    expect(Object.keys(info).sort()).toEqual(["accountSid", "authToken", "baseUrl"]);
    expect(info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createTwilioClient({
      accountSid: info.accountSid,
      username: info.accountSid,
      password: info.authToken,
      baseUrl: info.baseUrl,
    });
    expect((await client.api.v2010.accounts(info.accountSid).fetch()).sid).toBe(info.accountSid);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("refuses a bad port with exit 2", async () => {
    const run = await runCli(["emulator", "twilio", "--port", "99999"], { env: process.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--port must be a whole number from 0 to 65535");
  });
});
