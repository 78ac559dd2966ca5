/**
 * What a run does with each kind of store failure (engine/store-failure.ts), through the CLI against the real
 * servers, each store read back through its own SDK:
 *
 * - retryable (a 503, a throttle) at a store: tried again by the one retry policy, and the run completes;
 * - needs-operator (someone else changed the store after preflight), at each store type: exit 7, that store is
 *   not rolled back (its rollback could only refuse) and keeps their value, every other store holds the old key
 *   again, the old key still works, and the journal says the run is over and `resume` has nothing left to do;
 * - fatal (a 403) at a store: every store rolled back, exit 3.
 *
 * The Kubernetes Secret's needs-operator case is kubernetes-secret-store.test.ts (it needs a cluster fixture).
 */
import { writeFile } from "node:fs/promises";
import { GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { type HttpProxy, type ProxyHandler, startHttpProxy } from "../harness/http-proxy.js";
import { awsClient, azureSecretClient, vaultClient } from "../harness/servers.js";
import {
  adminClient,
  authenticates,
  cliArgs,
  envText,
  journalRecords,
  readStoreKey,
  runCli,
  runJson,
  until,
  type Workspace,
  writeConfigFor,
} from "./harness.js";
import { type StoredValue, useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();

/** A proxy in front of `target` for this file, closed at its end. */
async function proxyTo(target: string, handle: ProxyHandler): Promise<HttpProxy> {
  const proxy = await startHttpProxy(target, handle);
  e2e.onTeardown(() => proxy.close());
  return proxy;
}

/** One store of each type, seeded with the workspace's key, and how someone else writes it and how to read it. */
interface Target {
  entry: Record<string, unknown>;
  /** What the store holds now, read through its own SDK (not through rotator): the key SID. */
  heldSid(): Promise<string | undefined>;
  /** Someone else (an operator, another tool) puts `value` in the store. */
  writeTheirs(value: StoredValue): Promise<void>;
}

const TARGETS: Record<string, (ws: Workspace) => Promise<Target>> = {
  "dotenv-file": async (ws) => {
    const file = ws.storeFiles[1]!;
    return {
      entry: { name: "target", type: "dotenv-file", path: file },
      heldSid: async () => (await readStoreKey(file)).sid,
      writeTheirs: (value) =>
        writeFile(file, envText(value.accountSid!, value.apiKeySid!, value.apiKeySecret!, "theirs"), { mode: 0o600 }),
    };
  },
  "aws-secrets-manager": async (ws) => {
    const store = await e2e.awsStore(ws, e2e.seededValue(ws));
    const client = awsClient(e2e.servers);
    e2e.onTeardown(() => client.destroy());
    return {
      entry: { ...store.entry, name: "target" },
      heldSid: async () => {
        const read = await client.send(
          new GetSecretValueCommand({ SecretId: store.secretId, VersionStage: "AWSCURRENT" }),
        );
        return (JSON.parse(read.SecretString ?? "{}") as StoredValue).apiKeySid;
      },
      writeTheirs: async (value) => {
        await client.send(new PutSecretValueCommand({ SecretId: store.secretId, SecretString: JSON.stringify(value) }));
      },
    };
  },
  "vault-kv2": async (ws) => {
    const store = await e2e.vaultStore(ws, e2e.seededValue(ws));
    const vault = vaultClient(e2e.servers);
    return {
      entry: { ...store.entry, name: "target" },
      heldSid: async () => (await vault.read(`secret/data/${store.path}`)).data.data.apiKeySid as string,
      writeTheirs: async (value) => {
        await vault.write(`secret/data/${store.path}`, { data: value });
      },
    };
  },
  "azure-key-vault": async (ws) => {
    const store = await e2e.azureStore(ws, e2e.seededValue(ws));
    const client = azureSecretClient(e2e.servers);
    return {
      entry: { ...store.entry, name: "target" },
      heldSid: async () => (await store.state()).value.apiKeySid as string,
      writeTheirs: async (value) => {
        await client.setSecret(store.secretName, JSON.stringify(value), { contentType: "application/json" });
      },
    };
  },
};

/** A workspace whose stores are a dotenv file "app" (written first) and `target`; no consumers. */
async function twoStores(type: string): Promise<{ ws: Workspace; target: Target }> {
  const ws = await e2e.workspace(2);
  const target = await TARGETS[type]!(ws);
  await writeConfigFor(ws, {
    stores: [{ name: "app", type: "dotenv-file", path: ws.storeFiles[0] }, target.entry],
  });
  return { ws, target };
}

/** A key someone else made, not rotator: what they put in the store. */
async function theirKey(ws: Workspace): Promise<StoredValue> {
  const key = await adminClient(e2e.emulator)
    .api.v2010.accounts(ws.twilio.accountSid)
    .newKeys.create({ friendlyName: "someone else" });
  ws.secrets.push(key.secret);
  return { accountSid: ws.twilio.accountSid, apiKeySid: key.sid, apiKeySecret: key.secret };
}

/** The next key creation takes 1.5 s: time, after preflight read every store, for someone else to write one. */
function slowKeyCreation(): void {
  e2e.emulator.faults.add({
    kind: "latency",
    latencyMs: 1500,
    method: "POST",
    path: "/2010-04-01/Accounts/*/Keys.json",
    times: 1,
  });
}

/** The run's new key SID, from its journal (the result shows it masked). */
async function newKeyOf(ws: Workspace): Promise<unknown> {
  return (await journalRecords(ws)).find((record) => record.event === "key-issued")?.newKeyId;
}

/** A Vault secret seeded with the workspace's key, behind a proxy that answers the first write to it `status`. */
async function vaultRefusingFirstWrite(ws: Workspace, status: number, said: string) {
  const store = await e2e.vaultStore(ws, e2e.seededValue(ws));
  let refused = 0;
  const proxy = await proxyTo(e2e.servers.vault.address, (request) => {
    const write =
      (request.method === "POST" || request.method === "PUT") &&
      request.path.startsWith(`/v1/secret/data/${store.path}`);
    if (!write || refused > 0) return "forward";
    refused++;
    return { status, headers: { "content-type": "application/json" }, body: JSON.stringify({ errors: [said] }) };
  });
  return { store, proxy, refused: () => refused };
}

/** The Key Vault test server's admin API (faults, the requests it answered). */
const keyVault = () => keyVaultAdmin(e2e.servers.azure.vaultUrl, e2e.servers.azure.caPem);

describe("needs-operator: someone else changes a store during the run", () => {
  it.each(Object.keys(TARGETS))(
    "%s: exit 7, that store keeps their value and is not rolled back, the other is, the old key works",
    async (type) => {
      const { ws, target } = await twoStores(type);
      const theirs = await theirKey(ws);
      slowKeyCreation();
      const running = runJson(cliArgs(ws, "rotate"), { env: ws.env });
      await until(async () => (await journalRecords(ws)).some((record) => record.event === "issue-started"));
      await target.writeTheirs(theirs);
      const { run, result } = await running;

      expect(run.code, run.stderr).toBe(7);
      expect(result.status).toBe("failed");
      expect(result.stores.map((store) => [store.name, store.outcome])).toEqual([
        ["app", "rolled-back"],
        ["target", "left-to-operator"],
      ]);
      expect(await target.heldSid()).toBe(theirs.apiKeySid);
      expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
      expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);

      const records = await journalRecords(ws);
      expect(
        records.filter((record) => record.event.startsWith("store-rollback") || record.event === "store-rolled-back"),
      ).toEqual([expect.objectContaining({ event: "store-rolled-back", store: "app" })]);
      expect(records.find((record) => record.event === "store-handed-over")).toMatchObject({ store: "target" });
      expect(records.find((record) => record.event === "key-discarded")).toBeDefined();
      const finished = records.at(-1)!;
      expect(finished).toMatchObject({ event: "run-finished", status: "failed", exitCode: 7 });
      expect(finished).not.toHaveProperty("next");
      expect(String(finished.error)).toContain("`rotator resume` has nothing left to do");

      // As the journal says: nothing for resume, and nothing changes.
      const resumed = await runJson(cliArgs(ws, "resume"), { env: ws.env });
      expect(resumed.run.code, resumed.run.stderr).toBe(0);
      expect(resumed.result.status).toBe("nothing-to-resume");
      expect(await target.heldSid()).toBe(theirs.apiKeySid);
    },
  );
});

describe("needs-operator, then killed (SIGKILL) as the rollback starts", () => {
  it("resume finishes the rollback of the other store and still leaves theirs alone: exit 7, then nothing to resume", async () => {
    const { ws, target } = await twoStores("dotenv-file");
    const theirs = await theirKey(ws);
    slowKeyCreation();
    const running = runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-rollback-started" } });
    await until(async () => (await journalRecords(ws)).some((record) => record.event === "issue-started"));
    await target.writeTheirs(theirs);
    const killed = await running;
    expect(killed.signal ?? killed.code, killed.stderr).toBe("SIGKILL");
    expect((await journalRecords(ws)).find((record) => record.event === "store-handed-over")).toMatchObject({
      store: "target",
    });

    const resumed = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(7);
    expect(resumed.result.stores.map((store) => [store.name, store.outcome])).toEqual([
      ["app", "rolled-back"],
      ["target", "left-to-operator"],
    ]);
    expect(await target.heldSid()).toBe(theirs.apiKeySid);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    const records = await journalRecords(ws);
    expect(records.some((record) => record.event === "store-rollback-failed")).toBe(false);
    expect(records.at(-1)).toMatchObject({ event: "run-finished", status: "failed", exitCode: 7 });
    expect(records.at(-1)).not.toHaveProperty("next");

    const again = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(again.run.code, again.run.stderr).toBe(0);
    expect(again.result.status).toBe("nothing-to-resume");
  });
});

describe("needs-operator found by resume: killed after the first store's write, the second changed meanwhile", () => {
  it("resume leaves the changed store alone, rolls back the written one, deletes the new key: exit 7", async () => {
    const { ws, target } = await twoStores("dotenv-file");
    const theirs = await theirKey(ws);
    const killed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-write:app" } });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    await target.writeTheirs(theirs);

    const resumed = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(7);
    expect(resumed.result.error).toContain('store "target": now holds');
    expect(resumed.result.stores.map((store) => [store.name, store.outcome])).toEqual([
      ["app", "rolled-back"],
      ["target", "left-to-operator"],
    ]);
    expect(await target.heldSid()).toBe(theirs.apiKeySid);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    const records = await journalRecords(ws);
    expect(records.some((record) => record.event === "store-rollback-failed")).toBe(false);
    expect(records.some((record) => record.event === "key-discarded")).toBe(true);
    expect(records.at(-1)).toMatchObject({ event: "run-finished", status: "failed", exitCode: 7 });
  });
});

describe("retryable: a passing fault at a store is tried again, and the run completes", () => {
  it("Vault answers the write 503 once", async () => {
    const ws = await e2e.workspace(1);
    const { store, proxy, refused } = await vaultRefusingFirstWrite(ws, 503, "Vault is sealed");
    await writeConfigFor(ws, { stores: [{ ...store.entry, address: proxy.endpoint }] });
    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(refused()).toBe(1);
    expect(result.stores.map((s) => s.outcome)).toEqual(["written"]);
    const vault = vaultClient(e2e.servers);
    expect((await vault.read(`secret/data/${store.path}`)).data.data.apiKeySid).toBe(await newKeyOf(ws));
  });

  it("AWS throttles the write once", async () => {
    const ws = await e2e.workspace(1);
    const store = await e2e.awsStore(ws, e2e.seededValue(ws));
    let throttled = 0;
    const proxy = await proxyTo(e2e.servers.aws.endpoint, (request) => {
      if (request.headers["x-amz-target"] !== "secretsmanager.PutSecretValue" || throttled > 0) return "forward";
      throttled++;
      return {
        status: 400,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "ThrottlingException" },
        body: JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }),
      };
    });
    await writeConfigFor(ws, { stores: [{ ...store.entry, endpoint: proxy.endpoint }] });
    const { run } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(throttled).toBe(1);
    const client = awsClient(e2e.servers);
    const read = await client.send(new GetSecretValueCommand({ SecretId: store.secretId, VersionStage: "AWSCURRENT" }));
    client.destroy();
    expect((JSON.parse(read.SecretString!) as StoredValue).apiKeySid).toBe(await newKeyOf(ws));
  });

  it("Key Vault answers the set 503 once", async () => {
    const ws = await e2e.workspace(1);
    const azure = await e2e.azureStore(ws, e2e.seededValue(ws));
    const fault = await keyVault().addFault({
      kind: "server-error",
      status: 503,
      method: "PUT",
      path: `/secrets/${azure.secretName}*`,
      times: 1,
    });
    e2e.onTeardown(() =>
      keyVault()
        .removeFault(fault.id)
        .catch(() => undefined),
    );
    await writeConfigFor(ws, { stores: [azure.entry] });
    const { run } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const refused = (await keyVault().requests()).filter(
      (request) =>
        request.method === "PUT" && request.path.startsWith(`/secrets/${azure.secretName}`) && request.status === 503,
    );
    expect(refused).toHaveLength(1);
    expect((await azure.state()).value.apiKeySid).toBe(await newKeyOf(ws));
  });
});

describe("fatal: a store refuses the write for good", () => {
  it("Vault answers the write 403: every store rolled back, exit 3, no store handed over", async () => {
    const ws = await e2e.workspace(1);
    // The run's write is refused; the rollback's write of the old data (check-and-set) goes through.
    const { store, proxy, refused } = await vaultRefusingFirstWrite(ws, 403, "permission denied");
    await writeConfigFor(ws, {
      stores: [
        { name: "app", type: "dotenv-file", path: ws.storeFiles[0] },
        { ...store.entry, address: proxy.endpoint },
      ],
    });
    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(3);
    expect(refused()).toBe(1);
    expect(result.status).toBe("rolled-back");
    expect(result.stores.map((s) => s.outcome)).toEqual(["rolled-back", "rolled-back"]);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    const vault = vaultClient(e2e.servers);
    expect((await vault.read(`secret/data/${store.path}`)).data.data.apiKeySid).toBe(ws.seeded.sid);
    expect((await journalRecords(ws)).some((record) => record.event === "store-handed-over")).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});
