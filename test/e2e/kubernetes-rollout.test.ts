/**
 * Kubernetes end to end, the rollout: rotator writes a Secret on the harness's real API server and waits for a
 * Deployment's pods, real consumer apps (the public consumer library, reading the Secret through the API server,
 * calling the Twilio emulator every 50 ms) run by the test's kubelet. Canary first, the rollout awaited, no
 * 20003, the old key refused at the end; a canary that never authenticates rolls everything back with no other
 * pod touched; kill -9 during the rollout wait, then resume.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RESTARTED_FOR } from "../../src/consumer-probes/kubernetes/workload.js";
import { secretData, until } from "../harness/kubernetes.js";
import { authenticates, cliArgs, journals, root, runJson } from "./harness.js";
import type { PodLaunch } from "./kubelet.js";
import { SECRET } from "./kubernetes-cluster.js";
import { type CommandResult, events, sumStats, useKubernetesE2e, writeConfig } from "./kubernetes-e2e.js";

const { e2e, clusterFor, refusingTwilio } = useKubernetesE2e();

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

describe("kubernetes: a canary that never authenticates", () => {
  it("touches no other pod, rolls every store back, brings the canary back onto the old key, exit 3", async () => {
    const ws = await e2e.workspace(0);
    const refusing = await refusingTwilio();
    let breakNext = false;
    let broken = "";
    const cluster = await clusterFor(ws, {
      replicas: 3,
      launch: (pod): PodLaunch => {
        if (!breakNext) return {};
        breakNext = false;
        broken = pod.metadata?.name ?? "";
        return { twilioBaseUrl: refusing, noStartCheck: true };
      },
    });
    await writeConfig(ws, cluster, { reload: "rollout", canary: 1 }, { consumersTimeoutSeconds: 12 });
    const before = await cluster.deployment();
    const original = new Map([...cluster.kubelet.running.values()].map((pod) => [pod.uid, pod.name]));
    breakNext = true;

    const { run, result } = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });

    expect(run.code, run.stderr).toBe(3);
    expect(result.status).toBe("rolled-back");
    const records = await events(ws);
    const canary = records.find((r) => r.event === "consumer-canary") as unknown as {
      outcome: string;
      pods: Array<{ name: string }>;
    };
    expect(canary.outcome).toBe("failed");
    expect(canary.pods.map((pod) => pod.name)).toEqual([broken]);
    expect(records.some((r) => r.event === "consumers-checked")).toBe(false);
    expect(String(records.find((r) => r.event === "rollback-started")?.reason)).toContain(
      'the canary of consumer "web" failed',
    );
    // No rollout, and of the pods there were, only the canary's victim is gone.
    const after = await cluster.deployment();
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec?.template?.metadata?.annotations?.[RESTARTED_FOR]).toBeUndefined();
    const pods = await cluster.kube.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: "app=web" });
    const survivors = pods.items.filter((pod) => original.has(pod.metadata?.uid ?? ""));
    expect(survivors).toHaveLength(2);
    // Every store holds the old key again, the new one is deleted, the old one still works.
    const data = await secretData(cluster.kube, cluster.namespace, SECRET);
    expect(data?.TWILIO_API_KEY).toBe(ws.seeded.sid);
    expect(data?.TWILIO_API_SECRET).toBe(ws.seeded.secret);
    expect(records.find((r) => r.event === "key-discarded")?.outcome).toBe("deleted");
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    // The canary was replaced again, onto the old key: every pod running now uses it.
    expect((records.find((r) => r.event === "consumers-restored") as unknown as { converged: boolean }).converged).toBe(
      true,
    );
    // Its replacement reads the Secret as it is now: the old key.
    await cluster.kubelet.settled(3);
    expect([...cluster.kubelet.running.values()].some((pod) => pod.name === broken)).toBe(false);
    for (const pod of cluster.kubelet.running.values()) {
      const stats = await pod.consumer.stats();
      expect(stats.keys.at(-1), pod.name).toBe(ws.seeded.sid);
      expect(stats.unauthorized, pod.name).toBe(0);
    }
  });
});

describe("kubernetes: kill -9 during the rollout wait", () => {
  it("resume carries the run on without a second rollout, and completes", async () => {
    const ws = await e2e.workspace(0);
    let initial = "";
    // Pods of the new revision are held Pending: the rollout cannot finish while rotator waits for it.
    const cluster = await clusterFor(ws, {
      replicas: 3,
      launch: (pod) => (initial !== "" && pod.metadata?.labels?.["pod-template-hash"] !== initial ? "hold" : {}),
    });
    initial = cluster.initialRevision;
    await writeConfig(ws, cluster, { reload: "rollout", canary: 1 });
    const before = await cluster.deployment();
    const child = spawn(process.execPath, [join(root, "bin", "rotator.js"), ...cliArgs(ws, "rotate", "--yes")], {
      env: ws.env as NodeJS.ProcessEnv,
      stdio: "ignore",
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    // The canary passed and the template is patched: rotator is waiting for the rollout.
    await until(
      async () => (await cluster.deployment()).spec?.template?.metadata?.annotations?.[RESTARTED_FOR] !== undefined,
      120_000,
      "the rollout to start",
    );
    await until(
      async () =>
        (
          await cluster.kube.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: "app=web" })
        ).items.some((pod) => pod.metadata?.labels?.["pod-template-hash"] !== initial),
      60_000,
      "a pod of the new revision",
    );
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const patched = await cluster.deployment();
    expect(patched.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1);
    cluster.kubelet.release();

    const { run, result } = await runJson<CommandResult>(cliArgs(ws, "resume"), { env: ws.env });

    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    const after = await cluster.deployment();
    expect(after.metadata?.generation, "one rollout per run").toBe(patched.metadata?.generation);
    const records = await events(ws);
    const runId = String(records[0]?.runId);
    expect(after.spec?.template?.metadata?.annotations?.[RESTARTED_FOR]).toBe(runId);
    const canaries = records.filter((r) => r.event === "consumer-canary");
    expect(canaries.map((r) => r.outcome)).toEqual(["passed", "passed"]);
    expect(String(canaries[1]?.detail)).toContain("rollout has begun already");
    const checked = records.find((r) => r.event === "consumers-checked") as unknown as {
      results: Array<{ reloadDetail?: string; pods: Array<{ revision: string; state: string }> }>;
    };
    expect(checked.results[0]?.reloadDetail).toBe("deployment/web was already restarted by this run");
    expect(checked.results[0]?.pods.every((pod) => pod.revision !== initial && pod.state === "converged")).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect((await sumStats(cluster)).unauthorized).toBe(0);
  });
});
