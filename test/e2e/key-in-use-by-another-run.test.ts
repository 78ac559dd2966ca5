/**
 * A key another config's unfinished run still has consumers on is not revoked by this config while that run awaits
 * them (issue #9's hostile release tester).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliArgs, readStoreKey, runCli, useE2e, type Workspace } from "./harness.js";

const e2e = useE2e();

describe("a key another config's unfinished run still has consumers on", () => {
  /** A config of its own beside the workspace's, with one dotenv store holding the workspace's seed key. */
  async function otherConfig(ws: Workspace, name: string, extra: string): Promise<string> {
    const file = join(ws.dir, `${name}.env`);
    await writeFile(
      file,
      `TWILIO_ACCOUNT_SID=${ws.twilio.accountSid}\nTWILIO_API_KEY=${ws.seeded.sid}\nTWILIO_API_SECRET=${ws.seeded.secret}\n`,
      { mode: 0o600 },
    );
    ws.storeFiles.push(file);
    const config = join(ws.dir, `${name}.yaml`);
    await writeFile(
      config,
      `version: 1\ntwilio:\n  accountSid: ${ws.twilio.accountSid}\n  admin: { authToken: { env: TEST_TWILIO_AUTH_TOKEN } }\n  baseUrl: ${ws.twilio.baseUrl}\ncredential: { type: api-key, friendlyNamePrefix: e2e }\nstores:\n  - { name: ${name}, type: dotenv-file, path: ${file} }\n${extra}`,
    );
    return config;
  }

  it("is not revoked by this config while that run awaits them (exit 6, naming it); plan says so too", async () => {
    const ws = await e2e.workspace(1);
    const never = join(ws.dir, "never.sh");
    await writeFile(never, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const other = await otherConfig(
      ws,
      "other",
      `consumers:\n  - { name: other-app, type: command, command: [${never}] }\nverify: { newKeyTimeoutSeconds: 5, consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 }\n`,
    );
    const awaiting = await runCli(["rotate", "--config", other, "--state-dir", ws.stateDir, "--json"], {
      env: ws.env,
    });
    expect(awaiting.code, awaiting.stderr).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles.at(-1)!)).secret!);

    // other-app still uses the seed key: this config must not delete it.
    const plan = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(plan.code, plan.stderr).toBe(2);
    expect(JSON.parse(plan.stdout).problems.join("\n")).toContain(other);
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(6);
    expect(JSON.parse(run.stdout).error).toContain(other);
    expect(e2e.emulator.keys().map((k) => k.sid)).toContain(ws.seeded.sid);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
  });
});
