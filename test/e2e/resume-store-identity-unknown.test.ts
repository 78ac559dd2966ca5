/**
 * A store whose identity cannot be learnt at resume time (an AWS secret unreachable): resume still finds its run
 * (issue #9's hostile release tester).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, inject, it } from "vitest";
import { awsClient } from "../harness/servers.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { cliArgs, readStoreKey, runCli, useE2e, writeConfigFor } from "./harness.js";

const e2e = useE2e();

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
