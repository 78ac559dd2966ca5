/**
 * Kubernetes end to end, the Secret as a store: a write refused on the resourceVersion when someone else changed
 * the Secret after preflight (their value kept, the other stores rolled back), and a Secret External Secrets
 * Operator keeps in step with an AWS secret (syncedFrom): asked to refresh and waited for before the revoke, with
 * an in-test syncer standing in for the operator.
 */
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { startHttpProxy } from "../harness/http-proxy.js";
import {
  deleteNamespace,
  encodeData,
  ensureOpenCrd,
  freshNamespace,
  identityWithRules,
  kubeClient,
  secretData,
} from "../harness/kubernetes.js";
import { awsClient } from "../harness/servers.js";
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
  it("the write is refused on the resourceVersion: their value stays, the store before it is rolled back", async () => {
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
    expect(records.find((r) => r.event === "store-rollback-failed")?.store).toBe("k8s");
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

/**
 * An ExternalSecret `twilio` that fills Secret `twilio-eso` (owned by it, as ESO's creationPolicy Owner makes it)
 * from an AWS secret, and the test's stand-in for the operator: it copies AWSCURRENT into the Secret whenever
 * the ExternalSecret's force-sync annotation changes (its refreshInterval is an hour), while it is running.
 */
async function esoFixture(ws: Workspace) {
  const kube = kubeClient(e2e.servers);
  await ensureOpenCrd(kube, {
    group: "external-secrets.io",
    kind: "ExternalSecret",
    plural: "externalsecrets",
    version: "v1",
  });
  const namespace = await freshNamespace(kube, "eso");
  e2e.onTeardown(() => deleteNamespace(kube, namespace));
  const aws = await e2e.awsStore(ws, e2e.seededValue(ws));
  const external = (await kube.custom.createNamespacedCustomObject({
    group: "external-secrets.io",
    version: "v1",
    namespace,
    plural: "externalsecrets",
    body: {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "twilio" },
      spec: { refreshInterval: "1h", target: { name: "twilio-eso" }, dataFrom: [{ extract: { key: aws.secretId } }] },
    },
  })) as { metadata: { uid: string } };
  const fields = (value: Record<string, string>) =>
    encodeData({
      TWILIO_ACCOUNT_SID: value.accountSid ?? "",
      TWILIO_API_KEY: value.apiKeySid ?? "",
      TWILIO_API_SECRET: value.apiKeySecret ?? "",
    });
  await kube.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name: "twilio-eso",
        ownerReferences: [
          {
            apiVersion: "external-secrets.io/v1",
            kind: "ExternalSecret",
            name: "twilio",
            uid: external.metadata.uid,
            controller: true,
          },
        ],
      },
      data: fields(e2e.seededValue(ws)),
    },
  });
  const sm = awsClient(e2e.servers);
  const syncer = { running: true, synced: [] as string[], lastSeen: "" };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const es = (await kube.custom.getNamespacedCustomObject({
        group: "external-secrets.io",
        version: "v1",
        namespace,
        plural: "externalsecrets",
        name: "twilio",
      })) as { metadata: { annotations?: Record<string, string> } };
      const mark = es.metadata.annotations?.["force-sync"] ?? "";
      if (syncer.running && mark !== syncer.lastSeen) {
        syncer.lastSeen = mark;
        const got = await sm.send(new GetSecretValueCommand({ SecretId: aws.secretId, VersionStage: "AWSCURRENT" }));
        await kube.core.patchNamespacedSecret(
          { name: "twilio-eso", namespace, body: { data: fields(JSON.parse(got.SecretString ?? "{}")) } },
          kube.mergePatch,
        );
        syncer.synced.push(new Date().toISOString());
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  e2e.onTeardown(async () => {
    stopped = true;
    await loop;
    sm.destroy();
  });
  const rotator = await identityWithRules(kube, e2e.servers, namespace, [
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["twilio-eso"], verbs: ["get"] },
    { apiGroups: ["external-secrets.io"], resources: ["externalsecrets"], resourceNames: ["twilio"], verbs: ["patch"] },
  ]);
  ws.secrets.push(rotator.token);
  await writeConfigFor(ws, {
    stores: [
      aws.entry,
      {
        name: "k8s-mirror",
        type: "kubernetes-secret",
        namespace,
        secretName: "twilio-eso",
        syncedFrom: "aws",
        syncTimeoutSeconds: 5,
        kubeconfig: rotator.kubeconfig(ws.dir, "eso.kubeconfig"),
      },
    ],
    verify: { consumersPollSeconds: 0.2 },
  });
  return { kube, namespace, syncer };
}

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
