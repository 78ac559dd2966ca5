/**
 * A store that accepts connections but never answers (its server stopped with SIGSTOP, not refusing) is named
 * unreachable within its deadline (`timeoutSeconds`), through the CLI, by every command:
 *
 * - `status` lists the runs journaled for the config (the store's identity comes from the journal while the store
 *   cannot say it), and its problems name the store as unreachable with what to check;
 * - `rollback` and `resume` name it and stop before changing anything (exit 7, the run as it was, the command
 *   to run again); once the server answers again, `rollback` undoes the run;
 * - a Twilio request that goes unanswered is named with `twilio.timeoutSeconds`.
 *
 * The AWS Secrets Manager server is this file's own moto (test/harness/servers.ts startServers), so stopping it
 * troubles no other test file.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { beforeAll, describe, expect, it } from "vitest";
import type { StatusResult } from "../../src/commands/status/run.js";
import { awsClient, type RunningServers, startServers } from "../harness/servers.js";
import { cliArgs, readStoreKey, runCli, runJson, type Workspace, writeConfigFor } from "./harness.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();
/** The AWS store's deadline: short, so the test does not wait long; status, rollback and resume wait it once. */
const AWS_TIMEOUT_SECONDS = 2;
let own: RunningServers<"aws">;
let aws: SecretsManagerClient;

beforeAll(async () => {
  own = await startServers(["aws"]);
  aws = awsClient(own.endpoints);
  e2e.onTeardown(async () => {
    aws.destroy();
    await own.stop();
  });
});

/** moto stopped (SIGSTOP): it keeps its port and accepts connections, and answers nothing, until `thaw`. */
function freeze(): () => void {
  const pid = own.pid("aws");
  if (pid === undefined) throw new Error("the file's moto is not running");
  process.kill(pid, "SIGSTOP");
  return () => process.kill(pid, "SIGCONT");
}

/**
 * A workspace rotating an AWS secret (on this file's moto, deadline AWS_TIMEOUT_SECONDS) and a dotenv file, with
 * one completed rotation and one awaiting a consumer that keeps the first rotation's key: two runs journaled, one
 * unfinished, every store holding its new key.
 */
async function awaitingRun(): Promise<{ ws: Workspace; secretId: string; runs: string[] }> {
  const ws = await e2e.workspace(1);
  const secretId = `e2e/unreachable-${createHash("sha256").update(ws.dir).digest("hex").slice(0, 10)}`;
  await aws.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify(e2e.seededValue(ws)) }));
  Object.assign(ws.env, {
    AWS_ACCESS_KEY_ID: own.endpoints.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: own.endpoints.aws.secretAccessKey,
  });
  const stores = [
    {
      name: "aws",
      type: "aws-secrets-manager",
      secretId,
      region: own.endpoints.aws.region,
      endpoint: own.endpoints.aws.endpoint,
      timeoutSeconds: AWS_TIMEOUT_SECONDS,
    },
    { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] },
  ];
  await writeConfigFor(ws, { stores });
  const first = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
  expect(first.run.code, first.run.stderr).toBe(0);

  // A consumer that keeps the key of the first rotation: the second waits for it, and a rollback finds it there.
  const onFirstKey = join(ws.dir, "on-first-key.sh");
  const firstKey = (await readStoreKey(ws.storeFiles[0] as string)).sid;
  await writeFile(onFirstKey, `#!/bin/sh\n[ "$ROTATOR_EXPECTED_KEY_SID" = "${firstKey}" ]\n`, { mode: 0o755 });
  await writeConfigFor(ws, {
    stores,
    consumers: [{ name: "app", type: "command", command: [onFirstKey] }],
    verify: { consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 },
  });
  const second = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
  expect(second.run.code, second.run.stderr).toBe(4);
  return { ws, secretId, runs: [first.result.runId as string, second.result.runId as string] };
}

async function awsKeySid(secretId: string): Promise<string> {
  const current = await aws.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
  return (JSON.parse(current.SecretString ?? "{}") as { apiKeySid: string }).apiKeySid;
}

const UNREACHABLE = new RegExp(
  `store "aws": AWS Secrets Manager secret .* is unreachable: no answer within ${AWS_TIMEOUT_SECONDS} s \\(stores\\[0\\]\\.timeoutSeconds\\)`,
);

describe("a store that accepts connections and never answers", () => {
  it("status lists the journaled runs and names the store unreachable; rollback and resume name it and change nothing; thawed, rollback works", async () => {
    const { ws, secretId, runs } = await awaitingRun();
    const newSid = (await readStoreKey(ws.storeFiles[0] as string)).sid;
    expect(await awsKeySid(secretId)).toBe(newSid);
    const fileBefore = await readFile(ws.storeFiles[0] as string);
    const keysBefore = e2e.emulator.keys().map((k) => k.sid);

    const thaw = freeze();
    try {
      const status = await runJson<StatusResult>(cliArgs(ws, "status"), { env: ws.env });
      expect(status.run.code, status.run.stderr).toBe(0);
      expect(status.result.runs.map((run) => [run.runId, run.status])).toEqual([
        [runs[0], "completed"],
        [runs[1], "awaiting-consumers"],
      ]);
      expect(status.result.problems.join("\n")).toMatch(UNREACHABLE);
      expect(status.result.problems.join("\n")).toContain("Check that the store's server is up");

      for (const command of ["rollback", "resume"] as const) {
        const refused = await runJson(cliArgs(ws, command), { env: ws.env });
        expect(refused.run.code, `${command}: ${refused.run.stderr}`).toBe(7);
        expect(refused.result.error).toContain(`cannot ${command} run ${runs[1]} now, a store does not answer`);
        expect(refused.result.error).toMatch(UNREACHABLE);
        expect(refused.result.error).toContain("nothing was changed");
        expect(refused.result.hint).toContain(`run \`rotator ${command}\` again`);
      }
      // Nothing changed: the file byte for byte, Twilio's keys, the run still awaiting its consumer.
      expect(await readFile(ws.storeFiles[0] as string)).toEqual(fileBefore);
      expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keysBefore);
    } finally {
      thaw();
    }
    expect(await awsKeySid(secretId)).toBe(newSid);
    const rolledBack = await runJson(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.run.code, `${rolledBack.run.stdout}\n${rolledBack.run.stderr}`).toBe(0);
    expect(rolledBack.result.status).toBe("rolled-back");
    const oldSid = (await readStoreKey(ws.storeFiles[0] as string)).sid;
    expect(oldSid).not.toBe(newSid);
    expect(await awsKeySid(secretId)).toBe(oldSid);
  });

  it("a deadline above half the lease is refused at load, naming the setting and both fixes; nothing runs", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, {
      stores: { 0: { timeoutSeconds: 20 } },
      state: { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: 30 },
    });
    for (const command of ["plan", "rotate", "status"]) {
      const run = await runCli(cliArgs(ws, command), {
        env: { ...ws.env, DATABASE_URL: "postgres://x@127.0.0.1:1/x" },
      });
      expect(run.code, `${command}: ${run.stdout}`).toBe(2);
      const { error } = JSON.parse(run.stdout) as { error: string };
      expect(error).toContain("stores[0].timeoutSeconds");
      expect(error).toContain("20 s is more than half of state.leaseSeconds (30 s)");
      expect(error).toContain("Lower it to at most 15, or raise state.leaseSeconds to at least 40");
    }
    expect((await readStoreKey(ws.storeFiles[0] as string)).sid).toBe(ws.seeded.sid);
  });

  it("a Twilio request that goes unanswered is named with twilio.timeoutSeconds, and retried", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, { twilio: { timeoutSeconds: 1 } });
    e2e.emulator.faults.add({
      kind: "latency",
      latencyMs: 3000,
      method: "GET",
      path: "/2010-04-01/Accounts/*",
      times: 1,
    });
    const planned = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stderr).toMatch(
      /GET \/2010-04-01\/Accounts\/AC\w+\.json to http:\/\/127\.0\.0\.1:\d+: no answer within 1 s \(twilio\.timeoutSeconds\)/,
    );
  });
});
