/**
 * The test's kubelet. The harness's cluster has none (and no scheduler), so Pods the controllers create stay
 * Pending; this plays the kubelet for the pods of one selector: for each new pod it starts a real consumer app
 * (test/fixtures/consumer-app.ts, on the public consumer library, reading the Secret through the API server) on
 * an address of its own, 127.x.y.z, and the workload's port, then reports the pod Running and Ready with that
 * address as its podIP, as a kubelet would. A pod that goes away (deleted, or terminating) has its app stopped,
 * and a terminating one is then removed for good, as a kubelet confirms a graceful deletion.
 *
 * Every app's stats (calls, 20003s, keys used) are kept when it stops, so a test can count 401s across pods that
 * came and went during a rollout.
 */
import { randomInt } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import type { Kube } from "../harness/kubernetes.js";
import { type Consumer, type ConsumerOptions, type ConsumerStats, consumerFleet } from "./consumer-fleet.js";

export interface PodLaunch {
  /** The consumer app's store entry (default: the kubelet's). */
  store?: Record<string, unknown>;
  /** Where it calls Twilio (default: the kubelet's). */
  twilioBaseUrl?: string;
  /** Start even if Twilio refuses its credential. */
  noStartCheck?: boolean;
}

export interface TestKubeletOptions {
  kube: Kube;
  namespace: string;
  /** The pods this kubelet runs. */
  selector: string;
  port: number;
  /** The consumer app's store entry: a kubernetes-secret entry with a reader's kubeconfig. */
  store: Record<string, unknown>;
  env: Record<string, string | undefined>;
  twilioBaseUrl: () => string;
  /** How a pod is run; `hold` leaves it Pending until `release()`. Asked once per pod, when first seen. */
  launch?: ((pod: k8s.V1Pod) => PodLaunch | "hold") | undefined;
  /** What every pod's app is (default: an API-key app). */
  app?: Pick<ConsumerOptions, "kind" | "webhooks">;
}

export interface RunningPod {
  name: string;
  uid: string;
  ip: string;
  labels: Record<string, string>;
  consumer: Consumer;
  /** In the order the kubelet started them. */
  order: number;
}

export class TestKubelet {
  readonly #options: TestKubeletOptions;
  readonly #fleet: ReturnType<typeof consumerFleet>;
  /** By uid. */
  readonly running = new Map<string, RunningPod>();
  /** Every pod ever started, in order, with its stats once it stopped. */
  readonly history: Array<{ name: string; uid: string; labels: Record<string, string>; stats?: ConsumerStats }> = [];
  readonly #starting = new Set<string>();
  readonly #held = new Set<string>();
  readonly #decided = new Map<string, PodLaunch | "hold">();
  readonly #errors: string[] = [];
  readonly #ipBase = `127.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  #nextIp = 2;
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: TestKubeletOptions) {
    this.#options = options;
    this.#fleet = consumerFleet(options.twilioBaseUrl);
  }

  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#syncing = this.#sync()
        .catch((error: unknown) => {
          this.#errors.push((error as Error).message);
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, 100);
        });
    };
    tick();
  }

  /** Start the held pods from now on (and those held so far). */
  release(): void {
    this.#options.launch = undefined;
    this.#decided.clear();
    this.#held.clear();
  }

  /** Errors the kubelet met (a pod whose app would not start): a test asserts there are none. */
  get errors(): readonly string[] {
    return this.#errors;
  }

  /** Stats of every app that ever ran: stopped ones as they were when stopped, running ones now. */
  async allStats(): Promise<Array<{ name: string; stats: ConsumerStats }>> {
    const live = await Promise.all(
      [...this.running.values()].map(async (pod) => ({ name: pod.name, stats: await pod.consumer.stats() })),
    );
    const stopped = this.history
      .filter((entry) => entry.stats !== undefined)
      .map((entry) => ({ name: entry.name, stats: entry.stats as ConsumerStats }));
    return [...stopped, ...live];
  }

  /** Until every pod of the selector has its app running and is reported Ready. */
  async settled(count: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const pods = await this.#pods();
      const live = pods.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
      const ready = live.filter((pod) => this.running.has(pod.metadata?.uid ?? ""));
      if (live.length === count && ready.length === count) return;
      if (Date.now() > deadline) {
        throw new Error(
          `kubelet: ${ready.length}/${live.length} pods running, wanted ${count}; errors: ${this.#errors.join("; ")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#syncing;
    await Promise.all([...this.running.values()].map((pod) => this.#stopPod(pod)));
  }

  async #pods(): Promise<k8s.V1Pod[]> {
    const { kube, namespace, selector } = this.#options;
    return (await kube.core.listNamespacedPod({ namespace, labelSelector: selector })).items;
  }

  async #sync(): Promise<void> {
    const pods = await this.#pods();
    const present = new Map(pods.map((pod) => [pod.metadata?.uid ?? "", pod]));
    for (const [uid, running] of this.running) {
      const pod = present.get(uid);
      if (pod === undefined || pod.metadata?.deletionTimestamp !== undefined) {
        this.running.delete(uid);
        await this.#stopPod(running);
        if (pod !== undefined) await this.#finalise(pod);
      }
    }
    for (const pod of pods) {
      const uid = pod.metadata?.uid ?? "";
      if (pod.metadata?.deletionTimestamp !== undefined) {
        if (!this.running.has(uid)) await this.#finalise(pod);
        continue;
      }
      if (this.running.has(uid) || this.#starting.has(uid)) continue;
      if (!this.#decided.has(uid)) this.#decided.set(uid, this.#options.launch?.(pod) ?? {});
      const how = this.#decided.get(uid);
      if (how === "hold" || how === undefined) {
        this.#held.add(uid);
        continue;
      }
      this.#starting.add(uid);
      void this.#startPod(pod, how)
        .catch((error: unknown) => this.#errors.push(`${pod.metadata?.name}: ${(error as Error).message}`))
        .finally(() => this.#starting.delete(uid));
    }
  }

  async #startPod(pod: k8s.V1Pod, how: PodLaunch): Promise<void> {
    const { kube, namespace, port } = this.#options;
    const name = pod.metadata?.name ?? "";
    const uid = pod.metadata?.uid ?? "";
    let consumer: Consumer | undefined;
    let ip = "";
    // An address someone else's test holds with this port is unlikely, but then the next one is tried.
    for (let attempt = 0; attempt < 5 && consumer === undefined; attempt++) {
      ip = `${this.#ipBase}.${this.#nextIp++}`;
      const fleet = how.twilioBaseUrl === undefined ? this.#fleet : consumerFleet(() => how.twilioBaseUrl ?? "");
      try {
        consumer = await fleet.start(name, how.store ?? this.#options.store, this.#options.env, {
          listen: { host: ip, port },
          ttlSeconds: 3600,
          callIntervalMs: 50,
          ...this.#options.app,
          ...(how.noStartCheck ? { noStartCheck: true } : {}),
        });
      } catch (error) {
        if (attempt === 4) throw error;
      }
    }
    if (consumer === undefined) return;
    const now = new Date();
    try {
      await kube.core.patchNamespacedPodStatus(
        {
          name,
          namespace,
          body: {
            status: {
              phase: "Running",
              hostIP: "127.0.0.1",
              podIP: ip,
              podIPs: [{ ip }],
              startTime: now,
              conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
                type,
                status: "True",
                lastTransitionTime: now,
              })),
            },
          },
        },
        kube.mergePatch,
      );
    } catch (error) {
      // The pod went away while its app started.
      await consumer.stop();
      if ((error as { code?: number }).code === 404) return;
      throw error;
    }
    const labels = pod.metadata?.labels ?? {};
    this.running.set(uid, { name, uid, ip, labels, consumer, order: this.history.length });
    this.history.push({ name, uid, labels });
  }

  async #stopPod(pod: RunningPod): Promise<void> {
    const entry = this.history.find((one) => one.uid === pod.uid);
    try {
      if (entry !== undefined) entry.stats = await pod.consumer.stats();
    } catch {
      // It died on its own: no stats to keep.
    }
    await pod.consumer.stop();
  }

  /** A terminating pod whose app is gone: the kubelet's confirmation, a deletion with no grace left. */
  async #finalise(pod: k8s.V1Pod): Promise<void> {
    const { kube, namespace } = this.#options;
    await kube.core
      .deleteNamespacedPod({ name: pod.metadata?.name ?? "", namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  }
}
