/**
 * Kubernetes end to end, the Secret as a store: a write refused on the resourceVersion when someone else changed
 * the Secret after preflight (their value kept, the other stores rolled back), and a Secret External Secrets
 * Operator keeps in step with an AWS secret (syncedFrom): asked to refresh and waited for before the revoke, with
 * an in-test syncer standing in for the operator (eso-fixture.ts).
 */
import { describe, expect, it } from "vitest";
import { startHttpProxy } from "../harness/http-proxy.js";
import { secretData } from "../harness/kubernetes.js";
import { esoFixture as esoKeyFixture } from "./eso-fixture.js";
import {
  adminClient,
  authenticates,
  cliArgs,
  readStoreKey,
  runCli,
  runJson,
  type Workspace,
  writeConfigFor,
} from "./harness.js";
import { SECRET } from "./kubernetes-cluster.js";
import { type CommandResult, events, useKubernetesE2e } from "./kubernetes-e2e.js";

const { e2e, clusterFor } = useKubernetesE2e();

describe("kubernetes: a Secret changed by someone else after preflight", () => {
  it("the write is refused on the resourceVersion: their value stays, not rolled back; the store before it is", async () => {
    const ws = await e2e.workspace(1);
    const cluster = await clusterFor(ws, { replicas: 1 });
    const theirs = await adminClient(e2e.emulator)
      .api.v2010.accounts(ws.twilio.accountSid)
      .newKeys.create({ friendlyName: "operator" });
    ws.secrets.push(theirs.secret);
    const tokenVariable = "TEST_KUBERNETES_TOKEN";
    ws.env[tokenVariable] = cluster.rotatorToken;
    const secretPath = `/api/v1/namespaces/${cluster.namespace}/secrets/${SECRET}`;
    let raced = false;
    // Someone else writes the Secret just as rotator's write request reaches the API server.
    const proxy = await startHttpProxy(
      e2e.servers.kubernetes.server,
      async (request) => {
        if (request.method === "PUT" && request.path.startsWith(secretPath) && !raced) {
          raced = true;
          await cluster.kube.core.patchNamespacedSecret(
            {
              name: SECRET,
              namespace: cluster.namespace,
              body: {
                data: {
                  TWILIO_API_KEY: Buffer.from(theirs.sid).toString("base64"),
                  TWILIO_API_SECRET: Buffer.from(theirs.secret).toString("base64"),
                },
              },
            },
            cluster.kube.mergePatch,
          );
        }
        return "forward" as const;
      },
      { ca: e2e.servers.kubernetes.caPem },
    );
    e2e.onTeardown(() => proxy.close());
    const { kubeconfig: _unused, ...viaKubeconfig } = cluster.store;
    await writeConfigFor(ws, {
      stores: [
        { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] },
        { ...viaKubeconfig, server: proxy.endpoint, token: { env: tokenVariable } },
      ],
    });

    const { run, result } = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });

    expect(raced).toBe(true);
    expect(run.code, run.stderr).toBe(7);
    expect(result.status).toBe("failed");
    const records = await events(ws);
    expect(String(records.find((r) => r.event === "rollback-started")?.reason)).toMatch(
      new RegExp(
        `store "k8s": someone else changed Secret ${cluster.namespace}/${SECRET} as rotator wrote it: the API server refused the write, conditional on resourceVersion \\d+ \\(what preflight read\\); nothing overwritten`,
      ),
    );
    // Nothing lost: their value is in the Secret, the dotenv store holds the old key again, and it still works.
    const data = await secretData(cluster.kube, cluster.namespace, SECRET);
    expect(data?.TWILIO_API_KEY).toBe(theirs.sid);
    expect(data?.REGION).toBe("us1");
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    expect(records.some((r) => r.event === "store-rolled-back" && r.store === "app-1")).toBe(true);
    // Handed to the operator, not rolled back: its rollback could only refuse (engine/store-failure.ts).
    expect(records.find((r) => r.event === "store-handed-over")?.store).toBe("k8s");
    expect(records.some((r) => r.event === "store-rollback-failed")).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect(await authenticates(e2e.emulator, theirs.sid, theirs.secret)).toBe(true);
  });
});

describe("kubernetes: a run rolled back", () => {
  it("leaves no backup Secret behind, so the next rotation runs", async () => {
    const ws = await e2e.workspace(1);
    const cluster = await clusterFor(ws, { replicas: 1 });
    await writeConfigFor(ws, {
      stores: [cluster.store, { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }],
    });
    const backup = () => secretData(cluster.kube, cluster.namespace, `${SECRET}-rotator-backup`);

    // Killed right after the Secret holds the new key, then rolled back from the journal.
    const crashed = await runCli(cliArgs(ws, "rotate", "--yes"), {
      env: { ...ws.env, ROTATOR_FAILPOINT: "after-write:k8s" },
    });
    expect(crashed.code).not.toBe(0);
    expect(await backup()).toBeDefined();
    const rollback = await runJson<CommandResult>(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rollback.run.code, rollback.run.stderr).toBe(0);
    expect(rollback.result.status).toBe("rolled-back");
    expect((await secretData(cluster.kube, cluster.namespace, SECRET))?.TWILIO_API_KEY).toBe(ws.seeded.sid);
    expect(await backup()).toBeUndefined();

    const again = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });
    expect(again.run.code, again.run.stderr).toBe(0);
    const rotated = (await secretData(cluster.kube, cluster.namespace, SECRET))?.TWILIO_API_KEY;
    expect(rotated).not.toBe(ws.seeded.sid);
    expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(rotated);
    expect(await backup()).toBeUndefined();
  });
});

/** The ExternalSecret's fixture (eso-fixture.ts) for the workspace's API key. */
const esoFixture = (ws: Workspace) =>
  esoKeyFixture(e2e, ws, {
    value: e2e.seededValue(ws),
    fields: (value) => ({
      TWILIO_ACCOUNT_SID: value.accountSid ?? "",
      TWILIO_API_KEY: value.apiKeySid ?? "",
      TWILIO_API_SECRET: value.apiKeySecret ?? "",
    }),
    writeConfig: async (stores) => {
      await writeConfigFor(ws, { stores, verify: { consumersPollSeconds: 0.2 } });
    },
  });

describe("kubernetes: a Secret External Secrets Operator keeps in step with AWS (syncedFrom)", () => {
  it("is asked to refresh and waited for; the revoke comes after it holds the new key", async () => {
    const ws = await e2e.workspace(0);
    const eso = await esoFixture(ws);

    const { run } = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });

    expect(run.code, run.stderr).toBe(0);
    const data = await secretData(eso.kube, eso.namespace, "twilio-eso");
    expect(data?.TWILIO_API_KEY).not.toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, data?.TWILIO_API_KEY ?? "", data?.TWILIO_API_SECRET ?? "")).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    const records = await events(ws);
    const order = (event: string) => records.findIndex((r) => r.event === event);
    expect(String(records.find((r) => r.event === "store-sync-requested")?.detail)).toContain(
      'asked ExternalSecret "twilio" to refresh',
    );
    expect(records.find((r) => r.event === "stores-synced")?.converged).toBe(true);
    expect(order("stores-committed")).toBeLessThan(order("stores-synced"));
    expect(order("stores-synced")).toBeLessThan(order("revoke-started"));
    // The syncer copied the new key only when rotator asked, and before the revoke.
    expect(eso.syncer.synced).toHaveLength(1);
    expect(Date.parse(eso.syncer.synced[0] ?? "")).toBeLessThan(
      Date.parse(String(records[order("revoke-started")]?.ts)),
    );
    expect(records.some((r) => r.event === "store-written" && r.store === "k8s-mirror")).toBe(false);
  });

  it("a syncer that never catches up: exit 4 with nothing revoked; rollback then puts everything back", async () => {
    const ws = await e2e.workspace(0);
    const eso = await esoFixture(ws);
    eso.syncer.running = false;

    const { run, result } = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });

    expect(run.code, run.stderr).toBe(4);
    expect(result.status).toBe("awaiting-consumers");
    expect(String(result.error)).toContain("k8s-mirror (synced from aws; holds SK…");
    const records = await events(ws);
    expect(records.find((r) => r.event === "stores-synced")?.converged).toBe(false);
    expect(records.some((r) => r.event === "revoke-started")).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect((await secretData(eso.kube, eso.namespace, "twilio-eso"))?.TWILIO_API_KEY).toBe(ws.seeded.sid);

    const rollback = await runJson<CommandResult>(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rollback.run.code, rollback.run.stderr).toBe(0);
    expect(rollback.result.status).toBe("rolled-back");
    const after = await events(ws);
    expect(after.filter((r) => r.event === "stores-synced").at(-1)).toMatchObject({
      direction: "back",
      converged: true,
    });
    expect(after.some((r) => r.event === "key-discarded" && r.outcome === "deleted")).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});
