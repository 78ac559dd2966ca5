/**
 * Kubernetes end to end, an Auth Token rotation over a Kubernetes Secret whose Deployment's pods are Auth Token apps
 * on the consumer library that validate webhooks (test/fixtures/consumer-app.ts, WEBHOOKS=1) and report
 * `webhookTokenFingerprints`: each pod is held to the webhook rule on its own. Before the promote every pod must
 * validate with the new token and the old one (a pod that reads the new token alone, as from a Secret copy without
 * the previous one, holds the promote back until it is replaced); after the retire, every pod validates with the
 * new one only. Twilio (the emulator) posts signed webhooks to each pod's number every 50 ms throughout, with a 2 s
 * signing lag after the promote: no pod on the Secret rejects one, and none gets a 20003.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maskSid } from "../../src/util/mask.js";
import { encodeData, secretData, until } from "../harness/kubernetes.js";
import { runCli } from "./harness.js";
import type { PodLaunch } from "./kubelet.js";
import { SECRET } from "./kubernetes-cluster.js";
import { events, sumStats, useKubernetesE2e } from "./kubernetes-e2e.js";
import { fingerprint, tokenArgs, tokensOf, tokenWorkspace } from "./token-workspace.js";

const { e2e, clusterFor } = useKubernetesE2e();

const SIGNING_LAG_MS = 2_000;

beforeAll(() => {
  e2e.emulator.webhooks.configure({ signingLagMs: SIGNING_LAG_MS });
});
afterAll(() => {
  e2e.emulator.webhooks.stopTraffic();
});

const masked = (token: string) => maskSid(fingerprint(token));

interface PodsChecked {
  converged: boolean;
  results: Array<{ pods: Array<{ name: string; state: string }> }>;
}

describe("kubernetes: pods that validate webhooks, across an Auth Token rotation", () => {
  it("the promote waits until every pod validates with both tokens (one on the new token alone holds it back); at the end they validate with the new one only", async () => {
    const ws = await tokenWorkspace(e2e);
    const old = ws.account.token;
    let launched = 0;
    let newOnly = "";
    const copyHolding = (token: string) => ({ TWILIO_ACCOUNT_SID: ws.account.sid, TWILIO_AUTH_TOKEN: token });
    const cluster = await clusterFor(ws, {
      replicas: 3,
      app: { kind: "auth-token", webhooks: true },
      // The third pod reads a copy of the Secret the test fills: the old token, then the new one without the old.
      launch: (pod): PodLaunch => {
        launched += 1;
        if (launched !== 3) return {};
        newOnly = pod.metadata?.name ?? "";
        const store = { name: "new-only", type: "kubernetes-secret", secretName: "twilio-new-only" };
        return {
          store: { ...store, namespace: pod.metadata?.namespace, kubeconfig: e2e.servers.kubernetes.kubeconfig },
        };
      },
      secrets: { "twilio-new-only": copyHolding(old) },
    });
    const config = await ws.tokenConfig("k8s", [], {
      stores: [cluster.store],
      consumers: [cluster.consumer({ reload: { path: "/-/reload-credentials" } })],
      credential: { type: "auth-token", webhookSigningLagSeconds: SIGNING_LAG_MS / 1000 },
      verify: { consumersTimeoutSeconds: 120, consumersPollSeconds: 0.3 },
    });
    const running = [...cluster.kubelet.running.values()];
    const held = running.find((pod) => pod.name === newOnly)!;
    const pods = running.filter((pod) => pod !== held);
    // Twilio posts to the pods on the Secret (the held one would reject what the old token signs, as it should).
    const traffic = e2e.emulator.webhooks.startTraffic({
      intervalMs: 50,
      numbers: pods.map((pod) => pod.consumer.phoneNumber!),
    });
    await until(
      async () =>
        (await Promise.all(pods.map((pod) => pod.consumer.stats()))).every((s) => (s.webhooksReceived ?? 0) >= 3),
      60_000,
      "webhooks reaching every pod before the run",
    );

    let finished = false;
    const rotation = runCli(tokenArgs(config, "rotate", "--yes"), { env: ws.env }).finally(() => {
      finished = true;
    });
    await until(
      async () => (await secretData(cluster.kube, cluster.namespace, SECRET))?.TWILIO_PREVIOUS_AUTH_TOKEN === old,
      60_000,
      "the new token with the old one beside it in the Secret",
    );
    const fresh = (await secretData(cluster.kube, cluster.namespace, SECRET))?.TWILIO_AUTH_TOKEN ?? "";
    ws.secrets.push(fresh);
    expect(fresh).not.toBe(old);
    // The third pod's copy gets the new token without the old one, and the pod re-reads it.
    await cluster.kube.core.replaceNamespacedSecret({
      name: "twilio-new-only",
      namespace: cluster.namespace,
      body: { metadata: { name: "twilio-new-only" }, data: encodeData(copyHolding(fresh)) },
    });
    await until(
      async () => {
        await fetch(`${held.consumer.url}/-/reload-credentials`, { method: "POST" });
        const { status } = await held.consumer.stats();
        return JSON.stringify(status.webhookTokenFingerprints) === JSON.stringify([fingerprint(fresh)]);
      },
      30_000,
      "the third pod on the new token alone",
    );
    // rotator goes on asking it, and does not promote while it lags: the account still has its secondary.
    const asked = (await held.consumer.stats()).statusRequests;
    await until(
      async () => (await held.consumer.stats()).statusRequests >= asked + 3,
      30_000,
      "rotator asking the pod on the new token alone",
    );
    expect(finished).toBe(false);
    expect(tokensOf(e2e.emulator, ws.account.sid).secondary).toBe(fingerprint(fresh));
    expect((await held.consumer.stats()).status.authenticated).toBe(true);

    // Replaced by a pod reading the Secret (both tokens), the rotation goes on and completes.
    await cluster.kube.core.deleteNamespacedPod({ name: newOnly, namespace: cluster.namespace });
    const run = await rotation;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`does not validate webhooks with ${masked(old)} yet`);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(fresh), secondary: null });
    const data = await secretData(cluster.kube, cluster.namespace, SECRET);
    expect(data?.TWILIO_AUTH_TOKEN).toBe(fresh);
    expect(data?.TWILIO_PREVIOUS_AUTH_TOKEN).toBeUndefined();

    // The journal: every pod converged (both tokens) before the promote, the new-only pod not among them; after
    // the retire every pod converged again (the new token only).
    const records = await events({ ...ws, stateDir: config.stateDir });
    const at = (event: string) => records.findIndex((record) => record.event === event);
    const before = records
      .slice(0, at("revoke-started"))
      .filter((record) => record.event === "consumers-checked")
      .at(-1) as unknown as PodsChecked;
    expect(before.converged).toBe(true);
    // Every pod asked (the held one's replacement may not be Ready yet: not asked, it reads both tokens at start).
    const askedPods = (before.results[0]?.pods ?? []).filter((pod) => pod.state !== "not-ready");
    expect(askedPods.map((pod) => pod.name)).toEqual(expect.arrayContaining(pods.map((pod) => pod.name)));
    expect(askedPods.map((pod) => pod.name)).not.toContain(newOnly);
    expect(askedPods.every((pod) => pod.state === "converged")).toBe(true);
    const after = records
      .slice(at("previous-retired"))
      .filter((record) => record.event === "consumers-checked")
      .at(-1) as unknown as PodsChecked;
    expect(after.converged).toBe(true);
    expect(after.results[0]?.pods.every((pod) => pod.state === "converged")).toBe(true);
    for (const pod of cluster.kubelet.running.values()) {
      expect((await pod.consumer.stats()).status.webhookTokenFingerprints, pod.name).toEqual([fingerprint(fresh)]);
    }

    // The pods on the Secret: no 20003, no webhook rejected, and each took webhooks signed with both tokens.
    e2e.emulator.webhooks.stopTraffic(traffic.id);
    await e2e.emulator.webhooks.idle();
    for (const pod of pods) {
      const stats = await pod.consumer.stats();
      expect({ pod: pod.name, rejected: stats.webhooksRejected }).toEqual({ pod: pod.name, rejected: 0 });
      expect(Object.keys(stats.webhookAcceptedBy ?? {}).sort(), pod.name).toEqual(
        [fingerprint(old), fingerprint(fresh)].sort(),
      );
    }
    const onSecret = (await sumStats(cluster)).perPod.filter((one) => one.name !== newOnly);
    expect(onSecret.map((one) => one.stats.unauthorized)).toEqual(onSecret.map(() => 0));
    expect(cluster.kubelet.errors).toEqual([]);
  });
});
