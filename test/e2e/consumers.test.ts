/**
 * Promise 1 end to end: consumer processes built on `rotator/consumer`, reading the key from different
 * stores (dotenv files, Vault on OpenBao, AWS Secrets Manager on moto, Azure Key Vault on the project's Key
 * Vault test server), call the Twilio emulator without
 * pause while the real CLI rotates. No call may ever get 20003, every consumer must report the new key
 * before the revoke, and a consumer that never switches must stop the revoke.
 */
import { readFile } from "node:fs/promises";
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import type { PlanResult } from "../../src/commands/plan/run.js";
import { awsClient, vaultClient } from "../harness/servers.js";
import type { AzureStore } from "./azure-store.js";
import { type Consumer, consumerFleet } from "./consumer-fleet.js";
import { authenticates, cliArgs, journals, readStoreKey, runJson, type Workspace, writeConfigFor } from "./harness.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();
const fleet = consumerFleet(() => e2e.emulator.baseUrl);
// The consumers stop before the secret scan: each puts its stderr into the transcript as it stops.
e2e.onTeardown(async () => {
  await fleet.stopAll();
  expect(e2e.issuedSecrets.size).toBeGreaterThanOrEqual(3);
});

const startConsumer = (
  name: string,
  store: Record<string, unknown>,
  env: Record<string, string | undefined>,
  options: { ttlSeconds?: number; noReload?: boolean } = {},
): Promise<Consumer> => fleet.start(name, store, env, options);

const httpConsumer = (c: Consumer, reload = true) => ({
  name: c.name,
  type: "http",
  url: `${c.url}/.well-known/twilio-credential`,
  ...(reload ? { reload: { url: `${c.url}/-/reload-credentials` } } : {}),
});

interface CloudWorkspace {
  ws: Workspace;
  vaultStore: Record<string, unknown>;
  vaultPath: string;
  awsStore: Record<string, unknown>;
  azure: AzureStore;
}

/** A workspace whose stores are an AWS secret, a Vault secret, a Key Vault secret and two dotenv files, all holding the seeded key. */
async function cloudWorkspace(): Promise<CloudWorkspace> {
  const ws = await e2e.workspace(2);
  const vault = await e2e.vaultStore(ws, e2e.seededValue(ws, { region: "us1" }));
  const aws = await e2e.awsStore(ws, e2e.seededValue(ws));
  const azure = await e2e.azureStore(ws, e2e.seededValue(ws));
  return { ws, vaultStore: vault.entry, vaultPath: vault.path, awsStore: aws.entry, azure };
}

/** Stores in config order: AWS, Vault, Azure, then the dotenv files. */
function storesOf(cw: CloudWorkspace): Array<Record<string, unknown>> {
  return [
    cw.awsStore,
    cw.vaultStore,
    cw.azure.entry,
    ...cw.ws.storeFiles.map((file, i) => ({ name: `app-${i + 1}`, type: "dotenv-file", path: file })),
  ];
}

/** The workspace's config with these stores and consumers, waiting `timeoutSeconds` for the consumers. */
async function writeConfig(
  cw: CloudWorkspace,
  consumerEntries: Array<Record<string, unknown>>,
  timeoutSeconds: number,
): Promise<void> {
  await writeConfigFor(cw.ws, {
    stores: storesOf(cw),
    consumers: consumerEntries,
    verify: { consumersTimeoutSeconds: timeoutSeconds, consumersPollSeconds: 0.2 },
  });
}

const events = async (ws: Workspace) =>
  (await journals(ws))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { event: string; ts: string; [key: string]: unknown });

describe("consumers", () => {
  it("nine consumers on four kinds of store see no 20003 during a rotation, and all switch before the revoke", async () => {
    const cw = await cloudWorkspace();
    const { ws, vaultStore } = cw;
    const dotenv = (i: number) => ({ name: `app-${i}`, type: "dotenv-file", path: ws.storeFiles[i - 1] });
    const fleet = await Promise.all([
      startConsumer("web-1", dotenv(1), ws.env),
      startConsumer("web-2", dotenv(1), ws.env),
      startConsumer("worker-1", dotenv(2), ws.env),
      startConsumer("worker-2", dotenv(2), ws.env, { ttlSeconds: 1, noReload: true }),
      startConsumer("vault-1", vaultStore, ws.env),
      startConsumer("vault-2", vaultStore, ws.env, { ttlSeconds: 1, noReload: true }),
      startConsumer("aws-1", cw.awsStore, ws.env),
      startConsumer("azure-1", cw.azure.entry, ws.env),
      startConsumer("azure-2", cw.azure.entry, ws.env, { ttlSeconds: 1, noReload: true }),
    ]);
    await writeConfig(
      cw,
      fleet.map((c) => httpConsumer(c, !c.name.endsWith("-2") || c.name === "web-2")),
      30,
    );
    // Every consumer is calling Twilio with the old key before the rotation starts (polled: under load a
    // consumer's first call may still be under way when it starts answering).
    for (const c of fleet) {
      await expect.poll(async () => (await c.stats()).ok, { timeout: 10_000, message: c.name }).toBeGreaterThan(0);
    }

    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    expect(result.consumers.map((c) => c.state)).toEqual(Array(fleet.length).fill("converged"));

    // Calls keep going with the new key after the revoke.
    const after = await Promise.all(fleet.map((c) => c.stats()));
    const { sid: newSid, secret: newSecret } = await readStoreKey(ws.storeFiles[0]!);
    for (const [i, c] of fleet.entries()) {
      // Polled, not slept on: under load a consumer's call loop may take a while to come round.
      await expect
        .poll(async () => (await c.stats()).ok, { timeout: 10_000, message: c.name })
        .toBeGreaterThan(after[i]!.ok);
      const stats = await c.stats();
      expect(stats.unauthorized, `${c.name} got 20003`).toBe(0);
      expect(stats.otherErrors, c.name).toBe(0);
      expect(stats.ok, c.name).toBeGreaterThan(after[i]!.ok);
      expect(stats.keys, c.name).toEqual([ws.seeded.sid, newSid]);
    }
    expect(await authenticates(e2e.emulator, newSid!, newSecret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);

    // The journal shows every consumer converged before the revoke started.
    const records = await events(ws);
    const checked = records.find((r) => r.event === "consumers-checked") as unknown as {
      converged: boolean;
      results: Array<{ name: string; convergedAt: string }>;
    };
    const revoke = records.find((r) => r.event === "revoke-started")!;
    expect(checked.converged).toBe(true);
    expect(checked.results).toHaveLength(fleet.length);
    const lastConverged = Math.max(...checked.results.map((r) => Date.parse(r.convergedAt)));
    expect(lastConverged).toBeLessThanOrEqual(Date.parse(revoke.ts));
    expect(records.findIndex((r) => r.event === "stores-committed")).toBeLessThan(
      records.findIndex((r) => r.event === "consumers-checked"),
    );
    await Promise.all(fleet.map((c) => c.stop()));
  });

  it("a consumer that never picks up the new key stops the revoke (exit 4); once fixed, resume revokes", async () => {
    const cw = await cloudWorkspace();
    const { ws, vaultStore } = cw;
    const good = await startConsumer("good", { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }, ws.env);
    const stuck = await startConsumer("stuck", vaultStore, ws.env, { ttlSeconds: 3600, noReload: true });
    await writeConfig(cw, [httpConsumer(good), httpConsumer(stuck, false)], 2);

    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(4);
    expect(result.status).toBe("awaiting-consumers");
    expect(result.error).toContain("stuck");
    expect(result.error).not.toContain("good");
    expect(result.next).toContain("rotator resume");
    expect(result.consumers.find((c) => c.name === "stuck")?.state).toBe("other-credential");
    expect(run.stderr).toContain("stuck");
    // Nothing revoked: the stuck consumer's key still works, and it never saw a 20003.
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect((await stuck.stats()).unauthorized).toBe(0);

    // Another rotate is refused until the run is resumed or rolled back.
    const { run: blocked } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(blocked.code).toBe(6);

    // The operator fixes the consumer (here: restarts it, so it reads the store afresh).
    await stuck.stop();
    const fixed = await startConsumer("stuck", vaultStore, ws.env, { ttlSeconds: 3600, noReload: true });
    await writeConfig(cw, [httpConsumer(good), httpConsumer(fixed, false)], 5);
    const { run: resumed, result: resumedResult } = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumedResult.status).toBe("completed");
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect((await fixed.stats()).unauthorized).toBe(0);
    expect((await good.stats()).unauthorized).toBe(0);
    await Promise.all([good.stop(), fixed.stop()]);
  });

  it("rollback of a run awaiting consumers restores every store and deletes the new key", async () => {
    const cw = await cloudWorkspace();
    const { ws, vaultStore, vaultPath } = cw;
    const stuck = await startConsumer("stuck", vaultStore, ws.env, { ttlSeconds: 3600, noReload: true });
    await writeConfig(cw, [httpConsumer(stuck, false)], 1);
    const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    const keysBefore = e2e.emulator.keys().map((k) => k.sid);
    const vault = vaultClient(e2e.servers);
    const vaultBefore = (await vault.read(`secret/data/${vaultPath}`)).data.data;
    const azureBefore = await cw.azure.state();
    const aws = awsClient(e2e.servers);
    const awsCurrent = () =>
      aws.send(new GetSecretValueCommand({ SecretId: cw.awsStore.secretId as string, VersionStage: "AWSCURRENT" }));
    const awsBefore = await awsCurrent();

    const { run, result: rotated } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code).toBe(4);
    const newKey = rotated.newKey as string;

    const { run: rolledBack, result } = await runJson(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.code, rolledBack.stderr).toBe(0); // an operator's rollback that succeeds (issue #7)
    expect(result.status).toBe("rolled-back");
    expect(result.stores.map((s) => s.outcome)).toEqual(Array(5).fill("rolled-back"));
    expect((await cw.azure.state()).value).toEqual(azureBefore.value);
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
    expect((await vault.read(`secret/data/${vaultPath}`)).data.data).toEqual(vaultBefore);
    const awsAfter = await awsCurrent();
    // The old value again, as a new version of rotator's (a rollback never moves AWSCURRENT back: see the provider).
    expect(awsAfter.SecretString).toBe(awsBefore.SecretString);
    expect(awsAfter.VersionId).not.toBe(awsBefore.VersionId);
    aws.destroy();
    expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keysBefore);
    expect(e2e.emulator.keys().some((k) => newKey.endsWith(k.sid.slice(-4)))).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect((await stuck.stats()).unauthorized).toBe(0);

    const { result: again } = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(again.status).toBe("nothing-to-resume");
    await stuck.stop();
  });

  it("plan lists the consumers with their current state and changes nothing; a consumer that is down fails preflight", async () => {
    const cw = await cloudWorkspace();
    const { ws } = cw;
    const up = await startConsumer("up", { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }, ws.env);
    const down = await startConsumer("down", { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }, ws.env);
    await writeConfig(cw, [httpConsumer(up), httpConsumer(down)], 5);
    const snapshot = JSON.stringify(e2e.emulator.snapshot());
    const { run: planned, result: plan } = await runJson<PlanResult>(cliArgs(ws, "plan"), { env: ws.env });
    expect(planned.code, planned.stdout).toBe(0);
    expect(plan.consumers.map((c) => [c.name, c.state])).toEqual([
      ["up", "converged"],
      ["down", "converged"],
    ]);
    expect(plan.steps.join("\n")).toContain(
      `up (GET ${up.url}/.well-known/twilio-credential, now: uses SK…${ws.seeded.sid.slice(-4)}`,
    );

    await down.stop();
    const { run: failed, result: failedPlan } = await runJson<PlanResult>(cliArgs(ws, "plan"), { env: ws.env });
    expect(failed.code).toBe(2);
    expect(failedPlan.problems.join("\n")).toMatch(/consumer "down" .* cannot be checked/);
    const { run: rotate } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotate.code).toBe(2);
    expect(JSON.stringify(e2e.emulator.snapshot())).toBe(snapshot);
    expect(await journals(ws)).toBe("");
    await up.stop();
  });
});
