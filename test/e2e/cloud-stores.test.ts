/**
 * Rotations across AWS Secrets Manager (moto), Vault KV v2 (OpenBao), Azure Key Vault (the project's Key Vault
 * test server) and a dotenv file, through the real CLI, checked by reading each store through its own SDK rather
 * than through rotator. Failures are real: the AWS endpoint goes away mid-run (a TCP proxy in front of moto stops
 * listening, so moto keeps its state for the checks), Vault's token is revoked mid-run (a real 403), the Key Vault
 * application loses its set permission (a real 403), the dotenv directory becomes immutable.
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type nodeVault from "node-vault";
import { beforeAll, describe, expect, it } from "vitest";
import { awsClient, vaultClient } from "../harness/servers.js";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.js";
import type { AzureStore } from "./azure-store.js";
import {
  authenticates,
  cliArgs,
  journals,
  readStoreKey,
  runCli,
  runJson,
  until,
  type Workspace,
  writeConfigFor,
} from "./harness.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();
let aws: SecretsManagerClient;
let vault: nodeVault.client;
let awsProxy: TcpProxy;

interface CloudWorkspace {
  ws: Workspace;
  secretId: string;
  vaultPath: string;
  vaultToken: string;
  awsVersionBefore: string;
  azure: AzureStore;
}

beforeAll(async () => {
  aws = awsClient(e2e.servers);
  vault = vaultClient(e2e.servers);
  awsProxy = await startTcpProxy(Number(new URL(e2e.servers.aws.endpoint).port));
  e2e.onTeardown(async () => {
    await awsProxy.close();
    aws.destroy();
  });
  await vault.addPolicy({
    name: "rotator-e2e",
    rules: [
      'path "secret/data/e2e/*" { capabilities = ["create", "read", "update"] }',
      'path "secret/metadata/e2e/*" { capabilities = ["read"] }',
      'path "secret/delete/e2e/*" { capabilities = ["update"] }',
    ].join("\n"),
  });
});

/** Stores in this order: AWS (through the proxy that can cut it off), Vault (a token of its own), Azure, dotenv. */
async function cloudWorkspace(): Promise<CloudWorkspace> {
  const ws = await e2e.workspace(1);
  const value = e2e.seededValue(ws, { region: "us1" });
  const awsStore = await e2e.awsStore(ws, value, { endpoint: awsProxy.url });
  // A raw write: node-vault's tokenCreate() switches the client itself over to the token it creates.
  const token = (await vault.write("auth/token/create", { policies: ["rotator-e2e"], ttl: "1h" })).auth
    .client_token as string;
  const vaultStore = await e2e.vaultStore(ws, value, { token });
  const azure = await e2e.azureStore(ws, value);
  await writeConfigFor(ws, {
    stores: [
      awsStore.entry,
      vaultStore.entry,
      azure.entry,
      { name: "dotenv", type: "dotenv-file", path: ws.storeFiles[0] },
    ],
  });
  return {
    ws,
    secretId: awsStore.secretId,
    vaultPath: vaultStore.path,
    vaultToken: token,
    awsVersionBefore: awsStore.versionId,
    azure,
  };
}

async function awsState(secretId: string) {
  const value = await aws.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
  const described = await aws.send(new DescribeSecretCommand({ SecretId: secretId }));
  const labelled = Object.fromEntries(
    Object.entries(described.VersionIdsToStages ?? {}).filter(([, stages]) => stages.length > 0),
  );
  return { value: JSON.parse(value.SecretString!), currentVersion: value.VersionId, labels: labelled };
}

async function vaultState(path: string) {
  const read = await vault.read(`secret/data/${path}`);
  return { value: read.data.data as Record<string, string>, version: read.data.metadata.version as number };
}

/**
 * The AWS secret after a rollback: the value it held before, under AWSCURRENT and no other label; on the original
 * version when the run never touched it, else on a new version of rotator's (the restore: see the provider).
 */
async function expectAwsRestored(
  cw: CloudWorkspace,
  before: Awaited<ReturnType<typeof awsState>>,
  how: "untouched" | "restored",
) {
  const after = await awsState(cw.secretId);
  expect(after.value).toEqual(before.value);
  expect(after.labels).toEqual({ [after.currentVersion as string]: ["AWSCURRENT"] });
  if (how === "untouched") expect(after.currentVersion).toBe(cw.awsVersionBefore);
  else expect(after.currentVersion).toMatch(/^rotator-[0-9a-f]{40}$/);
  return after;
}

/** Start a rotation whose key creation takes 1.5 s, and do `act` while it waits (after preflight). */
async function rotateWhile(cw: CloudWorkspace, act: () => Promise<void>) {
  e2e.emulator.faults.add({
    kind: "latency",
    latencyMs: 1500,
    method: "POST",
    path: "/2010-04-01/Accounts/*/Keys.json",
    times: 1,
  });
  const running = runJson(cliArgs(cw.ws, "rotate"), { env: cw.ws.env });
  await until(async () => (await journals(cw.ws)).includes('"issue-started"'));
  await act();
  return running;
}

describe("AWS, Vault, Azure Key Vault and dotenv together", () => {
  it("a rotation leaves the same new key in every store (read through each store's own SDK)", async () => {
    const cw = await cloudWorkspace();
    const { run, result } = await runJson(cliArgs(cw.ws, "rotate"), { env: cw.ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.stores.map((s) => s.outcome)).toEqual(["written", "written", "written", "written"]);

    const awsNow = await awsState(cw.secretId);
    const vaultNow = await vaultState(cw.vaultPath);
    const azureNow = await cw.azure.state();
    const dotenvNow = await readStoreKey(cw.ws.storeFiles[0]!);
    expect(awsNow.value.apiKeySid).not.toBe(cw.ws.seeded.sid);
    expect(vaultNow.value).toEqual(awsNow.value);
    expect(azureNow.value).toEqual(awsNow.value);
    expect(azureNow.tags).toMatchObject({ owner: "e2e", "rotator-run": result.runId });
    expect(await cw.azure.versionCount()).toBe(2);
    expect(dotenvNow).toEqual({ sid: awsNow.value.apiKeySid, secret: awsNow.value.apiKeySecret });
    expect(awsNow.value.region).toBe("us1");
    expect(awsNow.labels[cw.awsVersionBefore]).toEqual(["AWSPREVIOUS"]);
    expect(awsNow.labels[awsNow.currentVersion!]).toEqual(["AWSCURRENT"]);
    expect(vaultNow.version).toBe(2);
    expect(await authenticates(e2e.emulator, awsNow.value.apiKeySid, awsNow.value.apiKeySecret)).toBe(true);
    expect(await authenticates(e2e.emulator, cw.ws.seeded.sid, cw.ws.seeded.secret)).toBe(false);
  });

  const failures: Array<{
    position: string;
    how: string;
    breakIt: (cw: CloudWorkspace) => Promise<() => Promise<void>>;
  }> = [
    {
      position: "aws (1st)",
      how: "its endpoint stops answering",
      breakIt: async () => {
        await awsProxy.cut();
        return () => awsProxy.restore();
      },
    },
    {
      position: "vault (2nd)",
      how: "its token is revoked (403)",
      breakIt: async (cw) => {
        await vault.write("auth/token/revoke", { token: cw.vaultToken });
        return async () => {};
      },
    },
    {
      position: "azure (3rd)",
      how: "its application loses the set permission (403)",
      breakIt: (cw) => cw.azure.breakWrites(),
    },
    {
      position: "dotenv (4th)",
      how: "its directory becomes immutable",
      breakIt: async (cw) => {
        const dir = dirname(cw.ws.storeFiles[0]!);
        execFileSync("chattr", ["+i", dir]);
        return async () => {
          execFileSync("chattr", ["-i", dir]);
        };
      },
    },
  ];

  for (const failure of failures) {
    it(`store ${failure.position} fails mid-run (${failure.how}): every store is back as it was, the new key deleted, exit 3`, async () => {
      const cw = await cloudWorkspace();
      const awsBefore = await awsState(cw.secretId);
      const vaultBefore = await vaultState(cw.vaultPath);
      const azureBefore = await cw.azure.state();
      const dotenvBefore = await readFile(cw.ws.storeFiles[0]!);
      const keysBefore = e2e.emulator.keys().map((k) => k.sid);
      let repair: (() => Promise<void>) | undefined;
      let rotation: Awaited<ReturnType<typeof runJson>>;
      try {
        rotation = await rotateWhile(cw, async () => {
          repair = await failure.breakIt(cw);
        });
      } finally {
        await repair?.();
      }
      const { run, result } = rotation;
      expect(run.code, run.stderr).toBe(3);
      expect(result.status).toBe("rolled-back");
      expect(result.error).toContain(failure.position.split(" ")[0]);

      // AWS: the same value under AWSCURRENT and no other label. Where the run wrote it, on a version of
      // rotator's restoring that value, never the original again: a switch of the run still on its way names the
      // original version, and so is refused.
      await expectAwsRestored(cw, awsBefore, failure.position.startsWith("aws") ? "untouched" : "restored");
      // Vault: the previous data is current again (KV v2 rolls back by writing it as a new version).
      const vaultAfter = await vaultState(cw.vaultPath);
      expect(vaultAfter.value).toEqual(vaultBefore.value);
      expect([vaultBefore.version, vaultBefore.version + 2]).toContain(vaultAfter.version);
      // Azure: the pre-run value is current again (Key Vault rolls back by setting it as a new version).
      const azureAfter = await cw.azure.state();
      expect(azureAfter.value).toEqual(azureBefore.value);
      if (failure.position.startsWith("dotenv")) expect(azureAfter.tags["rotator-restores"]).toBe(azureBefore.version);
      else expect(azureAfter.version).toBe(azureBefore.version);
      expect(await readFile(cw.ws.storeFiles[0]!)).toEqual(dotenvBefore);
      expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keysBefore);
      expect(await authenticates(e2e.emulator, cw.ws.seeded.sid, cw.ws.seeded.secret)).toBe(true);
    });
  }

  it("kill -9 between the Azure write and the next store's, then resume: every server ends consistent", async () => {
    const cw = await cloudWorkspace();
    const crashed = await runCli(cliArgs(cw.ws, "rotate"), {
      env: { ...cw.ws.env, ROTATOR_FAILPOINT: "after-write:azure" },
    });
    expect(crashed.signal).toBe("SIGKILL");
    const midway = await awsState(cw.secretId);
    expect(midway.value.apiKeySid).not.toBe(cw.ws.seeded.sid);
    expect((await cw.azure.state()).value).toEqual(midway.value);
    expect((await readStoreKey(cw.ws.storeFiles[0]!)).sid).toBe(cw.ws.seeded.sid);

    const { run: resumed, result: resumedResult } = await runJson(cliArgs(cw.ws, "resume"), { env: cw.ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumedResult.status).toBe("completed");
    const awsNow = await awsState(cw.secretId);
    const vaultNow = await vaultState(cw.vaultPath);
    expect(awsNow.value).toEqual(midway.value);
    expect(vaultNow.value).toEqual(awsNow.value);
    expect((await cw.azure.state()).value).toEqual(awsNow.value);
    // The resume found Azure written already: one version of rotator's, no second.
    expect(await cw.azure.versionCount()).toBe(2);
    expect(await readStoreKey(cw.ws.storeFiles[0]!)).toEqual({
      sid: awsNow.value.apiKeySid,
      secret: awsNow.value.apiKeySecret,
    });
    expect(await authenticates(e2e.emulator, awsNow.value.apiKeySid, awsNow.value.apiKeySecret)).toBe(true);
    expect(await authenticates(e2e.emulator, cw.ws.seeded.sid, cw.ws.seeded.secret)).toBe(false);
    expect(e2e.emulator.keys().filter((k) => k.friendlyName.includes(resumedResult.runId!))).toHaveLength(1);
  });

  it("someone else writes the Vault secret during the run: rotator stops, leaves theirs, rolls back the rest (exit 7)", async () => {
    const cw = await cloudWorkspace();
    const awsBefore = await awsState(cw.secretId);
    const theirs = {
      accountSid: e2e.emulator.accountSid,
      apiKeySid: `SK${"e".repeat(32)}`,
      apiKeySecret: "written-by-someone-else-0001",
      region: "eu1",
    };
    const { run, result } = await rotateWhile(cw, async () => {
      await vault.write(`secret/data/${cw.vaultPath}`, { data: theirs });
    });
    // Exit 7 (needs-operator: the Vault secret holds someone else's credential now), not 3 (rolled back).
    expect(run.code, run.stderr).toBe(7);
    expect(result.error).toMatch(/vault/);
    expect((await vaultState(cw.vaultPath)).value).toEqual(theirs);
    await expectAwsRestored(cw, awsBefore, "restored");
    expect(await cw.azure.versionCount()).toBe(1);
    expect((await readStoreKey(cw.ws.storeFiles[0]!)).sid).toBe(cw.ws.seeded.sid);
    expect(await authenticates(e2e.emulator, cw.ws.seeded.sid, cw.ws.seeded.secret)).toBe(true);
  });
});
