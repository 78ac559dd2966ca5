/**
 * The engine as a hostile release tester attacks it (review of issue #9's work), with API keys: an emergency
 * `--revoke-immediately` rotation with a consumer that is down, plan telling the truth about an emergency
 * rotation's consumer deadline, and a key revoked while another config's unfinished run still has consumers
 * on it.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, inject, it } from "vitest";
import { awsClient } from "../harness/servers.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { cliArgs, readStoreKey, runCli, useE2e, type Workspace, writeConfigFor } from "./harness.js";

const e2e = useE2e();

/** A consumer nobody answers for (nothing listens on port 1). */
const DOWN = { name: "down", type: "http", url: "http://127.0.0.1:1/.well-known/twilio-credential" };

describe("an emergency --revoke-immediately rotation with a consumer that is down", () => {
  it("goes ahead (the consumer could not use the new key anyway), names it, and plan says the same", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { consumers: [DOWN] });

    // Without --revoke-immediately a consumer that cannot be checked stops the run before anything changes.
    const plain = await runCli(cliArgs(ws, "plan", "--emergency"), { env: ws.env });
    expect(plain.code, plain.stderr).toBe(2);

    const plan = await runCli(cliArgs(ws, "plan", "--emergency", "--revoke-immediately"), { env: ws.env });
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout);
    expect(planned.problems).toEqual([]);
    expect(planned.notes.join("\n")).toContain('consumer "down"');
    expect(planned.steps.join("\n")).toContain("the revoke does not wait for them");

    const run = await runCli(cliArgs(ws, "rotate", "--emergency", "--revoke-immediately"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    expect(e2e.emulator.keys().map((k) => k.sid)).not.toContain(ws.seeded.sid);
    expect(result.warnings.join("\n")).toMatch(/--revoke-immediately.*down/);
  });

  it("--revoke-immediately without --emergency is refused by plan as by rotate (exit 2)", async () => {
    const ws = await e2e.workspace(1);
    const run = await runCli(cliArgs(ws, "plan", "--revoke-immediately"), { env: ws.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--revoke-immediately goes with --emergency");
  });
});

describe("plan tells the truth about an emergency rotation", () => {
  it("the consumer deadline printed is the emergency one rotate --emergency uses", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, {
      consumers: [DOWN],
      verify: { consumersTimeoutSeconds: 300, emergencyConsumersTimeoutSeconds: 45 },
    });
    const plain = JSON.parse((await runCli(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    const emergency = JSON.parse((await runCli(cliArgs(ws, "plan", "--emergency"), { env: ws.env })).stdout);
    const waitStep = (plan: { steps: string[] }) => plan.steps.find((step) => step.includes("consumer(s)"));
    expect(waitStep(plain)).toContain("up to 300 s");
    expect(waitStep(emergency)).toContain("up to 45 s");
  });
});

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

describe("a store whose identity cannot be learnt at resume time", () => {
  it("an AWS secret unreachable at resume: resume still finds its run (it does not say there is nothing to resume)", async () => {
    const servers = inject("servers");
    const aws = awsClient(servers);
    const proxy = await startTcpProxy(Number(new URL(servers.aws.endpoint).port));
    try {
      const ws = await e2e.workspace(1);
      const secretId = `review/identity-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
      const value = { accountSid: ws.twilio.accountSid, apiKeySid: ws.seeded.sid, apiKeySecret: ws.seeded.secret };
      await aws.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify(value) }));
      Object.assign(ws.env, {
        AWS_ACCESS_KEY_ID: servers.aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: servers.aws.secretAccessKey,
      });
      const never = join(ws.dir, "never.sh");
      await writeFile(never, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
      await writeConfigFor(ws, {
        stores: {
          1: { name: "aws", type: "aws-secrets-manager", secretId, region: servers.aws.region, endpoint: proxy.url },
        },
        consumers: [{ name: "stuck", type: "command", command: [never] }],
        verify: { consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 },
      });
      const awaiting = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
      expect(awaiting.code, awaiting.stderr).toBe(4);
      ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);

      await proxy.cut();
      const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      expect(JSON.parse(resumed.stdout).status, resumed.stderr).not.toBe("nothing-to-resume");
      expect(resumed.code).not.toBe(0);
      // The old key stays until every store can be seen to hold the new one.
      expect(e2e.emulator.keys().map((k) => k.sid)).toContain(ws.seeded.sid);

      await proxy.restore();
      // The stuck consumer never reports the old key either, so rollback restores every store but keeps the
      // new key alive for it (exit 7) rather than deleting a key a consumer may hold.
      const rolledBack = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
      expect(rolledBack.code, rolledBack.stderr).toBe(7);
      expect(rolledBack.stderr).toContain("aws: restored");
      expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
      // By stage: with none, moto answers the version CreateSecret made whatever AWSCURRENT names.
      const current = await aws.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
      expect(JSON.parse(current.SecretString!).apiKeySid).toBe(ws.seeded.sid);
    } finally {
      await proxy.close();
      aws.destroy();
    }
  });
});
