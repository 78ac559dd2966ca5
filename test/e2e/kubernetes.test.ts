/**
 * Kubernetes end to end, against the harness's real API server and controller-manager: rotator writes a Secret
 * and waits for a Deployment's pods, which are real consumer apps (the public consumer library, reading the
 * Secret through the API server, calling the Twilio emulator every 50 ms) run by the test's kubelet. Canary first,
 * the rollout awaited, no 20003, the old key refused at the end; a canary that never authenticates rolls
 * everything back with no other pod touched; pods added and deleted during the wait; kill -9 during the rollout
 * wait, then resume.
 */
import { describe, expect, it } from "vitest";
import { RESTARTED_FOR } from "../../src/consumers/kubernetes/workload.js";
import type { CommandResult } from "../../src/engine/result.js";
import { secretData, until } from "../harness/kubernetes.js";
import { authenticates, cliArgs, journals, runCli, runJson, type Workspace, writeConfigFor } from "./harness.js";
import { type ClusterFixture, makeCluster, SECRET } from "./kubernetes-cluster.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();

interface JournalLine {
  event: string;
  ts: string;
  [key: string]: unknown;
}

const events = async (ws: Workspace): Promise<JournalLine[]> =>
  (await journals(ws))
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as JournalLine);

async function clusterFor(
  ws: Workspace,
  options: Parameters<typeof makeCluster>[2] extends infer O ? Partial<O> & { replicas: number } : never,
) {
  const cluster = await makeCluster(e2e.servers, ws, { twilioBaseUrl: () => e2e.emulator.baseUrl, ...options });
  e2e.onTeardown(() => cluster.stop());
  return cluster;
}

async function writeConfig(ws: Workspace, cluster: ClusterFixture, consumer: Record<string, unknown>, verify = {}) {
  await writeConfigFor(ws, {
    stores: [cluster.store],
    consumers: [cluster.consumer(consumer)],
    verify: { consumersTimeoutSeconds: 120, consumersPollSeconds: 0.3, ...verify },
  });
}

async function sumStats(cluster: ClusterFixture) {
  const all = await cluster.kubelet.allStats();
  return {
    pods: all.length,
    calls: all.reduce((sum, one) => sum + one.stats.calls, 0),
    unauthorized: all.reduce((sum, one) => sum + one.stats.unauthorized, 0),
    perPod: all,
  };
}

describe("kubernetes: a Deployment of 3 pods, reload by rollout, canary first", () => {
  it("discovers the pods, restarts a canary first, awaits the rollout, sees no 20003, and revokes the old key", async () => {
    const ws = await e2e.workspace(0);
    const cluster = await clusterFor(ws, { replicas: 3 });
    await writeConfig(ws, cluster, { reload: "rollout", canary: 1 });
    const before = await cluster.deployment();
    const originalPods = [...cluster.kubelet.running.values()].map((pod) => pod.name);

    const { run, result } = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });

    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    const records = await events(ws);
    if (process.env.K8S_DEBUG) console.log(run.stderr, JSON.stringify(records, null, 1));
    const runId = String(records[0]?.runId);
    // Canary first: one pod of the old revision replaced and checked before the template was touched.
    const canary = records.find((r) => r.event === "consumer-canary") as unknown as {
      outcome: string;
      pods: Array<{ name: string; revision: string; state: string }>;
    };
    expect(canary.outcome).toBe("passed");
    expect(canary.pods).toHaveLength(1);
    expect(canary.pods[0]?.revision).toBe(cluster.initialRevision);
    const started = cluster.kubelet.history.filter((pod) => !originalPods.includes(pod.name));
    expect(started[0]?.name).toBe(canary.pods[0]?.name);
    expect(started[0]?.labels["pod-template-hash"]).toBe(cluster.initialRevision);
    expect(started.slice(1).every((pod) => pod.labels["pod-template-hash"] !== cluster.initialRevision)).toBe(true);
    // One rollout, marked with the run, awaited to its end: every pod now runs the new revision.
    const after = await cluster.deployment();
    expect(after.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1);
    expect(after.spec?.template?.metadata?.annotations?.[RESTARTED_FOR]).toBe(runId);
    const checked = records.find((r) => r.event === "consumers-checked") as unknown as {
      converged: boolean;
      results: Array<{ reloadDetail?: string; pods: Array<{ name: string; revision: string; state: string }> }>;
    };
    expect(checked.converged).toBe(true);
    expect(checked.results[0]?.reloadDetail).toMatch(/^restarted deployment\/web \(generation \d+\)$/);
    const finalPods = checked.results[0]?.pods ?? [];
    expect(finalPods).toHaveLength(3);
    expect(finalPods.every((pod) => pod.state === "converged" && pod.revision !== cluster.initialRevision)).toBe(true);
    expect(finalPods.map((pod) => pod.name).some((name) => originalPods.includes(name))).toBe(false);
    // The revoke came after every pod converged.
    const order = (event: string) => records.findIndex((r) => r.event === event);
    expect(order("consumer-canary")).toBeLessThan(order("consumers-checked"));
    expect(order("consumers-checked")).toBeLessThan(order("revoke-started"));

    // No call of any pod, old or new, got 20003; the Secret holds the new key and Twilio refuses the old one.
    const stats = await sumStats(cluster);
    expect(stats.pods).toBeGreaterThanOrEqual(7);
    expect(stats.unauthorized, JSON.stringify(stats.perPod.map((p) => [p.name, p.stats.unauthorized]))).toBe(0);
    expect(stats.calls).toBeGreaterThan(0);
    const data = await secretData(cluster.kube, cluster.namespace, SECRET);
    expect(data?.TWILIO_API_KEY).not.toBe(ws.seeded.sid);
    expect(data?.REGION).toBe("us1");
    expect(await authenticates(e2e.emulator, data?.TWILIO_API_KEY ?? "", data?.TWILIO_API_SECRET ?? "")).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(await secretData(cluster.kube, cluster.namespace, `${SECRET}-rotator-backup`)).toBeUndefined();
    expect(cluster.kubelet.errors).toEqual([]);
    // The journal names pods and revisions, never the Secret's data.
    const text = await journals(ws);
    expect(text).not.toContain(data?.TWILIO_API_SECRET ?? "unset");
    expect(text).toContain(finalPods[0]?.name ?? "unset");
  });
});
