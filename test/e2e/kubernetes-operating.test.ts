/**
 * Kubernetes and the operator's commands: plan lists the pods a rotation would wait for and its canary; a pod
 * whose Twilio calls fail is named by watch (and its metric), doctor and, once a run waits for it, status.
 */
import { describe, expect, it } from "vitest";
import { until } from "../harness/kubernetes.js";
import { cliArgs, runCli, runJson, type Workspace } from "./harness.js";
import type { PodLaunch } from "./kubelet.js";
import { type CommandResult, useKubernetesE2e, writeConfig } from "./kubernetes-e2e.js";

const { e2e, clusterFor, refusingTwilio } = useKubernetesE2e();

/** Two pods of deployment/web; the pod started after `breakOne()` calls a Twilio that refuses it. */
async function clusterWithOneBadPod(ws: Workspace) {
  const refusing = await refusingTwilio();
  let breakNext = false;
  let broken = "";
  const cluster = await clusterFor(ws, {
    replicas: 2,
    launch: (pod): PodLaunch => {
      if (!breakNext) return {};
      breakNext = false;
      broken = pod.metadata?.name ?? "";
      return { twilioBaseUrl: refusing, noStartCheck: true };
    },
  });
  return {
    cluster,
    async breakOne(): Promise<string> {
      const victim = [...cluster.kubelet.running.values()][0]!;
      breakNext = true;
      await cluster.kube.core.deleteNamespacedPod({ name: victim.name, namespace: cluster.namespace });
      await until(
        async () => broken !== "" && [...cluster.kubelet.running.values()].some((p) => p.name === broken),
        60_000,
      );
      await cluster.kubelet.settled(2);
      return broken;
    },
  };
}

describe("kubernetes: plan, watch, doctor and status", () => {
  it("plan lists the pods it would wait for and the canary it would restart first", async () => {
    const ws = await e2e.workspace(0);
    const cluster = await clusterFor(ws, { replicas: 2 });
    await writeConfig(ws, cluster, { reload: "rollout", canary: 1 });
    const pods = [...cluster.kubelet.running.values()].map((pod) => pod.name).sort();

    const { run, result } = await runJson<CommandResult & { actions: Array<{ action: string; description: string }> }>(
      cliArgs(ws, "plan"),
      { env: ws.env },
    );

    expect(run.code, run.stderr).toBe(0);
    const canary = result.actions.find((a) => a.action === "canary");
    expect(canary?.description).toContain("canary first: restart 1 pod(s) of deployment/web");
    const wait = result.actions.find((a) => a.action === "await-consumers");
    for (const pod of pods) expect(wait?.description).toContain(pod);
    expect(result.actions.map((a) => a.action)).toEqual([
      "preflight",
      "create",
      "verify",
      "write",
      "canary",
      "await-consumers",
      "revoke",
      "finish",
      "on-failure",
    ]);
  });

  it("watch and doctor name the pod that does not authenticate; status names the pods a run waits for", async () => {
    const ws = await e2e.workspace(0);
    const { cluster, breakOne } = await clusterWithOneBadPod(ws);
    await writeConfig(ws, cluster, {}, { consumersTimeoutSeconds: 2 });
    const broken = await breakOne();

    const watch = await runCli(cliArgs(ws, "watch", "--once"), { env: ws.env });
    expect(watch.code, watch.stderr).toBe(2);
    const checked = JSON.parse(watch.stdout) as {
      problems: string[];
      consumers: Array<{ name: string; authenticated: boolean; podsNotAuthenticated?: string[] }>;
    };
    expect(checked.consumers[0]).toMatchObject({ name: "web", authenticated: false, podsNotAuthenticated: [broken] });
    expect(checked.problems.join("\n")).toContain(`pods not authenticated: ${broken}`);

    const doctor = await runCli(["doctor", "--config", ws.configPath, "--state-dir", ws.stateDir, "--json"], {
      env: ws.env,
    });
    expect(doctor.code, doctor.stderr).toBe(2);
    const findings = (JSON.parse(doctor.stdout) as { findings: Array<{ check: string; ok: boolean; cause?: string }> })
      .findings;
    const finding = findings.find((f) => f.check === "consumer-authenticates");
    expect(finding?.ok).toBe(false);
    expect(finding?.cause).toContain(`${broken}: uses`);
    expect(finding?.cause).toContain("its last Twilio call failed to authenticate");

    // No reload and a long TTL: the pods keep the old key, and the run stops awaiting them.
    const rotate = await runJson<CommandResult>(cliArgs(ws, "rotate", "--yes"), { env: ws.env });
    expect(rotate.run.code, rotate.run.stderr).toBe(4);
    const status = await runJson<CommandResult & { runs: Array<{ status: string; waitingFor?: string[] }> }>(
      cliArgs(ws, "status"),
      { env: ws.env },
    );
    const waiting = status.result.runs.at(-1)?.waitingFor?.join("\n") ?? "";
    expect(status.result.runs.at(-1)?.status).toBe("awaiting-consumers");
    for (const pod of cluster.kubelet.running.values()) expect(waiting).toContain(pod.name);
  });
});
