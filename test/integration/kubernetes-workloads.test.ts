/**
 * The `kubernetes` consumer on every kind of workload, against the real API server and controller-manager, with
 * the test's kubelet running each pod as a consumer app: a StatefulSet's and a DaemonSet's pods (a DaemonSet's on
 * two Node objects) and a selector's are found and asked at podIP:port; a restart by `reload: rollout` makes
 * new pods of a new revision, and the consumer converges only once no pod of the old revision is left. The
 * e2e tests cover Deployments through the CLI.
 */
import { randomInt } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { createProbe } from "../../src/consumer-probes/index.js";
import { RESTARTED_FOR } from "../../src/consumer-probes/kubernetes/workload.js";
import type { ConsumerProbe, Expected } from "../../src/consumer-probes/probe.js";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { transcript } from "../e2e/harness.js";
import { TestKubelet } from "../e2e/kubelet.js";
import {
  deleteNamespace,
  encodeData,
  freshNamespace,
  identityWithRules,
  type Kube,
  kubeClient,
  unique,
  until,
} from "../harness/kubernetes.js";

beforeEach(() => {
  expect.hasAssertions();
});

const endpoints = inject("servers");
const admin: Kube = kubeClient(endpoints);
let emulator: TwilioEmulator;
let namespace = "";
let key: { sid: string; secret: string };
const kubelets: TestKubelet[] = [];
const nodes: string[] = [];
const issued = new Set<string>();

beforeAll(async () => {
  emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => issued.add(secret) });
  const client = (await import("../e2e/harness.js")).adminClient(emulator);
  const created = await client.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "workloads" });
  key = { sid: created.sid, secret: created.secret };
  namespace = await freshNamespace(admin, "workloads", { pods: true });
  await admin.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: "twilio" },
      data: encodeData({
        TWILIO_ACCOUNT_SID: emulator.accountSid,
        TWILIO_API_KEY: key.sid,
        TWILIO_API_SECRET: key.secret,
      }),
    },
  });
});

afterAll(async () => {
  for (const kubelet of kubelets) await kubelet.stop();
  for (const node of nodes) await admin.core.deleteNode({ name: node }).catch(() => undefined);
  await deleteNamespace(admin, namespace);
  await emulator.close();
  // No secret in anything the apps printed.
  const printed = transcript.join("\n");
  expect([...issued].filter((secret) => printed.includes(secret))).toEqual([]);
});

const template = (labels: Record<string, string>, port: number) => ({
  metadata: { labels },
  spec: {
    containers: [
      {
        name: "app",
        image: "example.invalid/consumer-app:test",
        ports: [{ containerPort: port }],
        envFrom: [{ secretRef: { name: "twilio" } }],
      },
    ],
  },
});

/** A kubelet for `app=<app>`, a probe for the consumer entry, and the identity it acts as (least rights). */
async function consumerOf(app: string, entry: Record<string, unknown>, port: number) {
  const reader = await identityWithRules(admin, endpoints, namespace, [
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["twilio"], verbs: ["get"] },
  ]);
  const kubelet = new TestKubelet({
    kube: admin,
    namespace,
    selector: `app=${app}`,
    port,
    store: {
      name: "k8s",
      type: "kubernetes-secret",
      namespace,
      secretName: "twilio",
      server: endpoints.kubernetes.server,
      token: { env: "READER_TOKEN" },
      caFile: endpoints.kubernetes.caFile,
    },
    env: { ...process.env, READER_TOKEN: reader.token },
    twilioBaseUrl: () => emulator.baseUrl,
  });
  kubelets.push(kubelet);
  kubelet.start();
  const rotator = await identityWithRules(admin, endpoints, namespace, [
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "delete"] },
    { apiGroups: ["apps"], resources: ["statefulsets", "daemonsets"], verbs: ["get", "patch"] },
    { apiGroups: ["apps"], resources: ["controllerrevisions"], verbs: ["list"] },
  ]);
  const probe: ConsumerProbe = createProbe(
    {
      name: app,
      type: "kubernetes",
      namespace,
      port,
      path: "/.well-known/twilio-credential",
      timeoutSeconds: 5,
      server: endpoints.kubernetes.server,
      token: { env: "ROTATOR_TOKEN" },
      caFile: endpoints.kubernetes.caFile,
      ...entry,
    } as Parameters<typeof createProbe>[0],
    { baseDir: "/", env: { ROTATOR_TOKEN: rotator.token } },
  );
  return { kubelet, probe };
}

const expected = (): Expected => ({ kind: "api-key", id: key.sid });

async function convergedWith(probe: ConsumerProbe, pods: number) {
  let last = await probe.check(expected());
  await until(
    async () => {
      last = await probe.check(expected());
      return last.state === "converged" && (last.pods?.length ?? 0) === pods;
    },
    120_000,
    "the consumer to converge",
  );
  return last;
}

describe("kubernetes consumer: workloads", () => {
  it("a StatefulSet: its pods found and asked; a rollout restart converges only on the new revision", async () => {
    const port = randomInt(20_000, 60_000);
    const app = unique("sts");
    const { kubelet, probe } = await consumerOf(app, { workload: `statefulset/${app}`, reload: "rollout" }, port);
    await admin.apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: app },
        spec: { replicas: 2, serviceName: app, selector: { matchLabels: { app } }, template: template({ app }, port) },
      },
    });
    const before = await convergedWith(probe, 2);
    expect(before.pods?.map((pod) => pod.name)).toEqual([`${app}-0`, `${app}-1`]);
    const firstRevision = before.pods?.[0]?.revision;
    await kubelet.settled(2);
    const uids = [...kubelet.running.keys()];

    expect(await probe.reload?.({ runId: "run-sts", expected: expected(), direction: "forward" })).toMatch(
      new RegExp(`^restarted statefulset/${app} \\(generation 2\\)$`),
    );
    // Right after the restart the old revision's pods are still there: not converged.
    expect((await probe.check(expected())).state).not.toBe("converged");
    const after = await convergedWith(probe, 2);
    expect(after.pods?.every((pod) => pod.revision !== firstRevision)).toBe(true);
    const now = await admin.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
    expect(now.items.map((pod) => pod.metadata?.name).sort()).toEqual([`${app}-0`, `${app}-1`]);
    expect(now.items.some((pod) => uids.includes(pod.metadata?.uid ?? ""))).toBe(false);
    const set = await admin.apps.readNamespacedStatefulSet({ name: app, namespace });
    expect(set.spec?.template?.metadata?.annotations?.[RESTARTED_FOR]).toBe("run-sts");
    // Once per run: asking again changes nothing.
    expect(await probe.reload?.({ runId: "run-sts", expected: expected(), direction: "forward" })).toContain(
      "already restarted by this run",
    );
    expect((await admin.apps.readNamespacedStatefulSet({ name: app, namespace })).metadata?.generation).toBe(2);
  });

  it("a DaemonSet on two nodes: one pod per node, found and asked; a rollout restart replaces both", async () => {
    const port = randomInt(20_000, 60_000);
    const app = unique("ds");
    for (let i = 0; i < 2; i++) {
      const name = unique("node");
      nodes.push(name);
      await admin.core.createNode({ body: { metadata: { name, labels: { [`${app}-node`]: "yes" } } } });
      // As its kubelet would: Ready, which lifts the not-ready taint a new Node is created with.
      await admin.core.patchNodeStatus(
        { name, body: { status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }] } } },
        admin.mergePatch,
      );
      await admin.core.patchNode({ name, body: { spec: { taints: null } } }, admin.mergePatch);
    }
    const { probe } = await consumerOf(app, { workload: `daemonset/${app}`, reload: "rollout" }, port);
    await admin.apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: app },
        spec: {
          selector: { matchLabels: { app } },
          template: {
            ...template({ app }, port),
            spec: { ...template({ app }, port).spec, nodeSelector: { [`${app}-node`]: "yes" } },
          },
        },
      },
    });
    const before = await convergedWith(probe, 2);
    const firstRevision = before.pods?.[0]?.revision;
    expect(firstRevision).not.toBe("");

    await probe.reload?.({ runId: "run-ds", expected: expected(), direction: "forward" });
    const after = await convergedWith(probe, 2);
    expect(after.pods?.every((pod) => pod.revision !== firstRevision)).toBe(true);
    expect(after.pods?.map((pod) => pod.name).some((name) => before.pods?.some((old) => old.name === name))).toBe(
      false,
    );
  });

  it("a selector: every matching pod, those added later too", async () => {
    const port = randomInt(20_000, 60_000);
    const app = unique("bare");
    const { kubelet, probe } = await consumerOf(app, { selector: `app=${app}` }, port);
    const pod = (name: string) =>
      admin.core.createNamespacedPod({
        namespace,
        body: { metadata: { name, labels: { app } }, spec: template({ app }, port).spec },
      });
    await pod(`${app}-a`);
    expect((await convergedWith(probe, 1)).pods?.map((p) => p.name)).toEqual([`${app}-a`]);
    await pod(`${app}-b`);
    await kubelet.settled(2);
    expect((await convergedWith(probe, 2)).pods?.map((p) => p.name)).toEqual([`${app}-a`, `${app}-b`]);
    expect((await probe.check({ kind: "api-key", id: `SK${"0".repeat(32)}` })).state).toBe("other-credential");
  });

  it("reload: { path } with a canary: one pod reloads first and is checked, then the rest", async () => {
    const port = randomInt(20_000, 60_000);
    const app = unique("reload");
    const { kubelet, probe } = await consumerOf(
      app,
      { selector: `app=${app}`, reload: { path: "/-/reload-credentials" }, canary: 1 },
      port,
    );
    for (const name of [`${app}-a`, `${app}-b`]) {
      await admin.core.createNamespacedPod({
        namespace,
        body: { metadata: { name, labels: { app } }, spec: template({ app }, port).spec },
      });
    }
    await kubelet.settled(2);
    await convergedWith(probe, 2);
    // A new key in the Secret (as a store write would leave it); the pods keep the old one until they reload.
    const client = (await import("../e2e/harness.js")).adminClient(emulator);
    const next = await client.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "next" });
    await admin.core.patchNamespacedSecret(
      {
        name: "twilio",
        namespace,
        body: { data: encodeData({ TWILIO_API_KEY: next.sid, TWILIO_API_SECRET: next.secret }) },
      },
      admin.mergePatch,
    );
    const onNext: Expected = { kind: "api-key", id: next.sid };

    const canary = await probe.canary?.({
      runId: "run-reload",
      expected: onNext,
      direction: "forward",
      timeoutMs: 60_000,
      pollMs: 200,
    });

    expect(canary).toMatchObject({ outcome: "passed", pods: [{ name: `${app}-a`, state: "converged" }] });
    // Only the canary reloaded.
    const between = await probe.check(onNext);
    expect(between.pods?.map((pod) => [pod.name, pod.state])).toEqual([
      [`${app}-a`, "converged"],
      [`${app}-b`, "other-credential"],
    ]);
    expect(await probe.reload?.({ runId: "run-reload", expected: onNext, direction: "forward" })).toBe(
      `POSTed /-/reload-credentials to ${app}-a, ${app}-b`,
    );
    expect((await probe.check(onNext)).state).toBe("converged");
    // The Secret back to the old key, as a rollback leaves it: reloading back puts every pod on it again.
    await admin.core.patchNamespacedSecret(
      {
        name: "twilio",
        namespace,
        body: { data: encodeData({ TWILIO_API_KEY: key.sid, TWILIO_API_SECRET: key.secret }) },
      },
      admin.mergePatch,
    );
    await probe.reload?.({ runId: "run-reload", expected: expected(), direction: "back" });
    expect((await probe.check(expected())).state).toBe("converged");
  });
});
