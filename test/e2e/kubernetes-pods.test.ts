/**
 * Kubernetes end to end, discovery: a kubernetes consumer's pods are listed afresh at every poll, so a pod added
 * while rotator waits (a scale-up) is waited for, and pods deleted during the wait are not.
 */
import { describe, expect, it } from "vitest";
import { secretData, until } from "../harness/kubernetes.js";
import { authenticates, cliArgs, runCli } from "./harness.js";
import type { PodLaunch } from "./kubelet.js";
import { SECRET } from "./kubernetes-cluster.js";
import { events, sumStats, useKubernetesE2e, writeConfig } from "./kubernetes-e2e.js";

const { e2e, clusterFor } = useKubernetesE2e();

describe("kubernetes: pods that come and go while rotator waits", () => {
  it("waits for a pod added during the wait, and not for pods deleted during it", async () => {
    const ws = await e2e.workspace(0);
    let staleNext = false;
    let stale = "";
    const staleStore = { name: "stale", type: "kubernetes-secret", namespace: "", secretName: "twilio-stale" };
    const cluster = await clusterFor(ws, {
      replicas: 2,
      // The added pod reads a copy holding the old key: it lags until it is replaced.
      launch: (pod): PodLaunch => {
        if (!staleNext) return {};
        staleNext = false;
        stale = pod.metadata?.name ?? "";
        return { store: { ...staleStore, kubeconfig: e2e.servers.kubernetes.kubeconfig } };
      },
    });
    staleStore.namespace = cluster.namespace;
    await cluster.kube.core.createNamespacedSecret({
      namespace: cluster.namespace,
      body: {
        metadata: { name: "twilio-stale" },
        data: {
          TWILIO_ACCOUNT_SID: Buffer.from(ws.twilio.accountSid).toString("base64"),
          TWILIO_API_KEY: Buffer.from(ws.seeded.sid).toString("base64"),
          TWILIO_API_SECRET: Buffer.from(ws.seeded.secret).toString("base64"),
        },
      },
    });
    // No reload: pods keep the key they started with (a long TTL), so only new pods use the new one.
    await writeConfig(ws, cluster, {});
    const originals = [...cluster.kubelet.running.values()].map((pod) => pod.name);
    let finished = false;
    const rotation = runCli(cliArgs(ws, "rotate", "--yes"), { env: ws.env }).finally(() => {
      finished = true;
    });
    await until(
      async () => (await secretData(cluster.kube, cluster.namespace, SECRET))?.TWILIO_API_KEY !== ws.seeded.sid,
      60_000,
      "the new key in the Secret",
    );

    // A pod added while rotator waits (a scale-up), lagging on the old key.
    staleNext = true;
    await cluster.kube.apps.patchNamespacedDeployment(
      { name: "web", namespace: cluster.namespace, body: { spec: { replicas: 3 } } },
      cluster.kube.mergePatch,
    );
    await cluster.kubelet.settled(3);
    // The two pods there were are deleted: their replacements start on the new key.
    for (const name of originals) await cluster.kube.core.deleteNamespacedPod({ name, namespace: cluster.namespace });
    await until(
      async () => {
        const pods = [...cluster.kubelet.running.values()];
        const fresh = pods.filter((pod) => !originals.includes(pod.name) && pod.name !== stale);
        if (fresh.length !== 2) return false;
        const keys = await Promise.all(fresh.map(async (pod) => (await pod.consumer.stats()).keys.at(-1)));
        return keys.every((key) => key !== undefined && key !== ws.seeded.sid);
      },
      60_000,
      "two replacements on the new key",
    );
    // rotator goes on asking the added pod, and does not finish while it lags.
    const stalePod = [...cluster.kubelet.running.values()].find((pod) => pod.name === stale);
    const asked = (await stalePod!.consumer.stats()).statusRequests;
    await until(
      async () => (await stalePod!.consumer.stats()).statusRequests >= asked + 3,
      30_000,
      "rotator asking the added pod",
    );
    expect(finished).toBe(false);

    // Once it is replaced too, the rotation completes.
    await cluster.kube.core.deleteNamespacedPod({ name: stale, namespace: cluster.namespace });
    const run = await rotation;
    expect(run.code, run.stderr).toBe(0);
    const records = await events(ws);
    const checked = records.find((r) => r.event === "consumers-checked") as unknown as {
      results: Array<{ pods: Array<{ name: string; state: string }> }>;
    };
    const finalPods = checked.results[0]?.pods.map((pod) => pod.name) ?? [];
    expect(finalPods).toHaveLength(3);
    expect(finalPods.filter((name) => originals.includes(name) || name === stale)).toEqual([]);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    const stats = await sumStats(cluster);
    expect(stats.unauthorized).toBe(0);
  });
});
