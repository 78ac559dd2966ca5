/**
 * The `kubernetes` consumer: a workload's pods, discovered at every poll (workload.ts), each Ready pod asked the
 * http probe's question directly at podIP:port (the API server's pod proxy refuses loopback pod IPs, and a proxy
 * hop would hide which pod answered). The consumer converges when the rollout is over (no pod of an earlier
 * revision left) and every Ready pod of the current revision reports the expected credential and authenticates.
 *
 * Reload: `rollout` patches the pod template as `kubectl rollout restart` does, once per run (the template
 * records the run: a resume or a second consumer of the same workload does not restart it again); `{ path }` is
 * POSTed to each pod. A rollback puts pods back: a second restart if this run restarted the workload, else only
 * the pods on the run's credential (a canary) are deleted for their controller to replace.
 *
 * Canary: N pods first (restarted, or reloaded), and nothing else is touched until they use the new credential
 * and authenticate; the engine rolls the run back when they do not within the consumers' deadline.
 */
import type * as K8s from "@kubernetes/client-node";
import { type AccessNeed, describeNeeds, missingAccess, roleRules } from "../../kubernetes-client/access.js";
import { connectKubernetes, type KubernetesClient, KubernetesSetupError } from "../../kubernetes-client/client.js";
import { apiFailure, isNotFound } from "../../kubernetes-client/errors.js";
import { maskSid } from "../../util/mask.js";
import { judge } from "../http-probe.js";
import { httpCall } from "../http-request.js";
import type {
  CanaryOutcome,
  CanaryRequest,
  ConsumerProbe,
  Expected,
  PodReport,
  ProbeReport,
  ReloadRequest,
} from "../probe.js";
import { type KubernetesConsumerEntry, parseWorkload } from "./schema.js";
import {
  discover,
  isServing,
  patchTemplate,
  RESTARTED_AT,
  RESTARTED_FOR,
  RESTORED_FOR,
  type WorkloadState,
} from "./workload.js";

type Env = Readonly<Record<string, string | undefined>>;

/** A pod's word, with what the probe needs besides the journaled report. */
interface Asked {
  pod: K8s.V1Pod;
  report: PodReport;
  /** The http probe's judgement, for the ones asked. */
  probe?: ProbeReport;
}

/** Pod names shown in one line before the rest is counted. */
const NAMES_SHOWN = 6;

export function createKubernetesProbe(entry: KubernetesConsumerEntry, options: { baseDir: string; env: Env }) {
  return new KubernetesProbe(entry, options);
}

export class KubernetesProbe implements ConsumerProbe {
  readonly type = "kubernetes";
  readonly name: string;
  readonly reload?: (request?: ReloadRequest) => Promise<string | undefined>;
  readonly canary?: (request: CanaryRequest) => Promise<CanaryOutcome>;
  readonly describeCanary?: () => string;
  readonly #entry: KubernetesConsumerEntry;
  readonly #options: { baseDir: string; env: Env };
  #client: Promise<KubernetesClient> | undefined;
  /** Set once the rights were found sufficient; until then every check asks (a Role may be fixed meanwhile). */
  #accessOk = false;

  constructor(entry: KubernetesConsumerEntry, options: { baseDir: string; env: Env }) {
    this.name = entry.name;
    this.#entry = entry;
    this.#options = options;
    if (entry.reload !== undefined) this.reload = (request) => this.#reload(request);
    if (entry.canary !== undefined) {
      this.canary = (request) => this.#canary(request);
      const what = entry.reload === "rollout" ? "restart" : "reload";
      this.describeCanary = () => `${what} ${entry.canary} pod(s) of ${entry.workload ?? `pods ${entry.selector}`}`;
    }
  }

  describe(): string {
    const what = this.#entry.workload ?? `pods ${this.#entry.selector}`;
    return `${what} in namespace ${this.#entry.namespace}, each Ready pod at :${this.#entry.port}${this.#entry.path}`;
  }

  async check(expected: Expected): Promise<ProbeReport> {
    let client: KubernetesClient;
    let state: WorkloadState;
    try {
      client = await this.#connect();
      const lacking = await this.#lackingAccess(client);
      if (lacking !== undefined) return { state: "unreachable", detail: lacking };
      state = await discover(client, this.#entry);
    } catch (error) {
      return { state: "unreachable", detail: this.#explain(error) };
    }
    const asked = await this.#ask(state, expected);
    return summarise(state, asked, this.#entry.workload !== undefined);
  }

  // ------------------------------------------------------------------------------------------- reload

  async #reload(request: ReloadRequest | undefined): Promise<string | undefined> {
    if (request === undefined) throw new Error(`consumer "${this.name}": a reload needs the run it is for`);
    const client = await this.#connect();
    if (this.#entry.reload !== "rollout") {
      const state = await discover(client, this.#entry);
      return this.#postReloads(state.current.concat(state.old).filter(isServing));
    }
    const workload = this.#entry.workload ?? "";
    const state = await discover(client, this.#entry);
    const restarted = state.templateAnnotations[RESTARTED_FOR] === request.runId;
    if (request.direction === "forward") {
      // At most one rollout per workload per run: a resume, or a second consumer of it, finds it restarted.
      if (restarted) return `${workload} was already restarted by this run`;
      const generation = await this.#restart(client, { [RESTARTED_FOR]: request.runId });
      return `restarted ${workload} (generation ${generation ?? "?"})`;
    }
    if (restarted) {
      if (state.templateAnnotations[RESTORED_FOR] === request.runId) {
        return `${workload} was already restarted back by this run`;
      }
      const generation = await this.#restart(client, { [RESTORED_FOR]: request.runId });
      return `restarted ${workload} again, onto the old credential (generation ${generation ?? "?"})`;
    }
    // No rollout of this run: only pods that picked up its credential (a canary) go, for their controller to replace.
    const asked = await this.#ask(state, request.expected);
    const strays = asked
      .filter((one) => one.probe !== undefined && one.probe.state !== "converged")
      .map((one) => one.pod);
    if (strays.length === 0) return undefined;
    await this.#deletePods(client, strays);
    return `deleted ${names(strays)} for ${workload}'s controller to replace onto the old credential`;
  }

  async #restart(client: KubernetesClient, marks: Record<string, string>): Promise<number | undefined> {
    const workload = this.#entry.workload ?? "";
    try {
      return await patchTemplate(client, this.#entry.namespace, workload, {
        [RESTARTED_AT]: new Date().toISOString(),
        ...marks,
      });
    } catch (error) {
      throw new Error(`consumer "${this.name}": could not restart ${workload}: ${this.#explain(error)}`);
    }
  }

  async #postReloads(pods: K8s.V1Pod[]): Promise<string | undefined> {
    const path = typeof this.#entry.reload === "object" ? this.#entry.reload.path : "";
    const failures: string[] = [];
    await Promise.all(
      pods.map(async (pod) => {
        try {
          const answer = await httpCall("POST", this.#podUrl(pod, path), {
            headers: {},
            timeoutMs: this.#entry.timeoutSeconds * 1000,
          });
          if (answer.status < 200 || answer.status >= 300) failures.push(`${podName(pod)}: HTTP ${answer.status}`);
        } catch (error) {
          failures.push(`${podName(pod)}: ${(error as Error).message}`);
        }
      }),
    );
    if (failures.length > 0) throw new Error(`reload ${path} failed on ${failures.join("; ")}`);
    return pods.length === 0 ? undefined : `POSTed ${path} to ${names(pods)}`;
  }

  async #deletePods(client: KubernetesClient, pods: K8s.V1Pod[]): Promise<void> {
    for (const pod of pods) {
      try {
        await client.core.deleteNamespacedPod({ name: podName(pod), namespace: this.#entry.namespace });
      } catch (error) {
        if (!isNotFound(error)) {
          throw new Error(`consumer "${this.name}": could not delete pod ${podName(pod)}: ${this.#explain(error)}`);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------- canary

  async #canary(request: CanaryRequest): Promise<CanaryOutcome> {
    const count = this.#entry.canary ?? 1;
    const client = await this.#connect();
    const state = await discover(client, this.#entry);
    if (this.#entry.reload === "rollout" && state.templateAnnotations[RESTARTED_FOR] === request.runId) {
      return { outcome: "passed", detail: "this run's rollout has begun already (after its canary)", pods: [] };
    }
    const before = await this.#ask(state, request.expected);
    const already = before.filter((one) => one.probe?.state === "converged");
    if (already.length >= count) {
      // A resume after the canary passed, or pods that picked the credential up on their own.
      return {
        outcome: "passed",
        detail: `${names(already.map((one) => one.pod))} already on it`,
        pods: reports(already),
      };
    }
    const candidates = before.filter((one) => one.probe !== undefined && one.probe.state !== "converged");
    if (candidates.length === 0) {
      return { outcome: "failed", detail: "no Ready pod to make the canary of", pods: reports(before) };
    }
    const chosen = candidates.slice(0, count).map((one) => one.pod);
    const knownUids = new Set(state.current.concat(state.old).map((pod) => pod.metadata?.uid));
    if (this.#entry.reload === "rollout") await this.#deletePods(client, chosen);
    else await this.#postReloads(chosen);
    request.onProgress?.(
      this.#entry.reload === "rollout"
        ? `canary: restarted ${names(chosen)}, waiting for the replacement to use ${maskSid(request.expected.id)}`
        : `canary: reloaded ${names(chosen)}, waiting for it to use ${maskSid(request.expected.id)}`,
    );
    const chosenUids = new Set(chosen.map((pod) => pod.metadata?.uid));
    // Restarted: the canaries are the pods their controller makes in their place. Reloaded: the same pods.
    const isCanary = (pod: K8s.V1Pod) =>
      this.#entry.reload === "rollout" ? !knownUids.has(pod.metadata?.uid) : chosenUids.has(pod.metadata?.uid);
    const deadline = Date.now() + request.timeoutMs;
    let last: Asked[] = [];
    for (;;) {
      try {
        const now = await discover(client, this.#entry);
        last = (await this.#ask(now, request.expected)).filter((one) => isCanary(one.pod));
      } catch (error) {
        request.onProgress?.(`canary: ${this.#explain(error)}`);
      }
      const passed = last.filter((one) => one.probe?.state === "converged");
      if (passed.length >= count) {
        return {
          outcome: "passed",
          detail: `${names(passed.map((one) => one.pod))} use ${maskSid(request.expected.id)} and authenticate`,
          pods: reports(last),
        };
      }
      if (request.shouldStop?.()) return { outcome: "stopped", detail: "interrupted", pods: reports(last) };
      if (Date.now() + request.pollMs > deadline) {
        const said =
          last.length === 0
            ? this.#entry.reload === "rollout"
              ? "no replacement pod became Ready"
              : "the reloaded pod is gone"
            : last.map((one) => `${podName(one.pod)}: ${one.probe?.detail ?? one.report.state}`).join("; ");
        return {
          outcome: "failed",
          detail: `the canary did not use ${maskSid(request.expected.id)} and authenticate within ${Math.round(request.timeoutMs / 1000)} s (${said})`,
          pods: reports(last),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, request.pollMs));
    }
  }

  // ------------------------------------------------------------------------------------------- asking pods

  /** Every pod's report; the serving pods of the current revision asked in parallel. */
  async #ask(state: WorkloadState, expected: Expected): Promise<Asked[]> {
    const current = await Promise.all(
      state.current.map(async (pod): Promise<Asked> => {
        const report: PodReport = { name: podName(pod), revision: state.revision, state: "not-ready" };
        if (!isServing(pod)) return { pod, report };
        const probe = await this.#probePod(pod, expected);
        return {
          pod,
          probe,
          report: {
            ...report,
            state: probe.state,
            ...(probe.reported === undefined ? {} : { reported: probe.reported }),
            ...(probe.authenticated === undefined ? {} : { authenticated: probe.authenticated }),
          },
        };
      }),
    );
    const old = state.old.map(
      (pod): Asked => ({ pod, report: { name: podName(pod), revision: revisionOf(pod), state: "old-revision" } }),
    );
    return [...current, ...old];
  }

  async #probePod(pod: K8s.V1Pod, expected: Expected): Promise<ProbeReport> {
    const url = this.#podUrl(pod, this.#entry.path);
    let answer: Awaited<ReturnType<typeof httpCall>>;
    try {
      answer = await httpCall("GET", url, { headers: {}, timeoutMs: this.#entry.timeoutSeconds * 1000 });
    } catch (error) {
      return { state: "unreachable", detail: (error as Error).message };
    }
    if (answer.status !== 200) return { state: "unreachable", detail: `answered HTTP ${answer.status}` };
    try {
      return judge(JSON.parse(answer.body), expected);
    } catch {
      return { state: "bad-response", detail: "did not answer JSON" };
    }
  }

  #podUrl(pod: K8s.V1Pod, path: string): string {
    const ip = pod.status?.podIP ?? "";
    return `http://${ip.includes(":") ? `[${ip}]` : ip}:${this.#entry.port}${path}`;
  }

  // ------------------------------------------------------------------------------------------- access

  /** What the probe may not do that it will need, as a message; undefined when it may do it all. */
  async #lackingAccess(client: KubernetesClient): Promise<string | undefined> {
    if (this.#accessOk) return undefined;
    const needs = this.#needs();
    const missing = await missingAccess(client, needs);
    if (missing.length === 0) {
      this.#accessOk = true;
      return undefined;
    }
    return (
      `the identity rotator uses (${client.source}) lacks ${describeNeeds(missing)} in namespace ` +
      `${this.#entry.namespace}; add to its Role: ${roleRules(missing)}`
    );
  }

  #needs(): AccessNeed[] {
    const namespace = this.#entry.namespace;
    const need = (verb: string, group: string, resource: string, why: string, name?: string): AccessNeed => ({
      verb,
      group,
      resource,
      namespace,
      why,
      ...(name === undefined ? {} : { name }),
    });
    const needs = [need("list", "", "pods", "find the pods")];
    if (this.#entry.workload === undefined) return needs;
    const { kind, name } = parseWorkload(this.#entry.workload);
    const resource = `${kind}s`;
    needs.push(need("get", "apps", resource, "read the workload", name));
    if (kind === "deployment") needs.push(need("list", "apps", "replicasets", "tell its current pods from old ones"));
    if (kind === "daemonset") needs.push(need("list", "apps", "controllerrevisions", "find its current revision"));
    if (this.#entry.reload === "rollout") {
      needs.push(need("patch", "apps", resource, "restart it (rollout)", name));
      needs.push(need("delete", "", "pods", "restart the canary, and pods a rollback puts back"));
    }
    return needs;
  }

  // ------------------------------------------------------------------------------------------- plumbing

  #connect(): Promise<KubernetesClient> {
    this.#client ??= connectKubernetes(this.#entry, this.#options).catch((error: unknown) => {
      this.#client = undefined;
      if (error instanceof KubernetesSetupError) throw new Error(`consumer "${this.name}": ${error.message}`);
      throw error;
    });
    return this.#client;
  }

  #explain(error: unknown): string {
    if (error instanceof Error && (error.name === "KubernetesSetupError" || error.message.startsWith("consumer "))) {
      return error.message;
    }
    const failure = apiFailure(error);
    if (failure.status === 404 && this.#entry.workload !== undefined) {
      return `${this.#entry.workload} not found in namespace ${this.#entry.namespace}`;
    }
    return `the API server: ${failure.detail}`;
  }
}

/** One report for the workload from its pods' reports. */
function summarise(state: WorkloadState, asked: Asked[], isWorkload: boolean): ProbeReport {
  const pods = reports(asked);
  const serving = asked.filter((one) => one.probe !== undefined);
  const converged = serving.filter((one) => one.probe?.state === "converged");
  const lagging = serving.filter((one) => one.probe?.state !== "converged");
  const old = asked.filter((one) => one.report.state === "old-revision").map((one) => one.pod);
  const notReady = asked.filter((one) => one.report.state === "not-ready").map((one) => one.pod);
  const parts: string[] = [];
  if (state.pending !== undefined) parts.push(state.pending);
  if (serving.length > 0) {
    const shown = converged[0]?.probe?.reported;
    parts.push(
      `${converged.length}/${serving.length} Ready pod(s) ${shown === undefined ? "on the expected credential" : `use ${shown} and authenticate`}` +
        (converged.length > 0 && converged.length <= NAMES_SHOWN ? ` (${names(converged.map((one) => one.pod))})` : ""),
    );
  }
  for (const one of lagging.slice(0, NAMES_SHOWN)) parts.push(`${podName(one.pod)}: ${one.probe?.detail}`);
  if (lagging.length > NAMES_SHOWN) parts.push(`${lagging.length - NAMES_SHOWN} more lagging`);
  if (old.length > 0) parts.push(`rollout not over: ${old.length} pod(s) of an earlier revision left (${names(old)})`);
  if (notReady.length > 0) parts.push(`${notReady.length} not Ready (${names(notReady)})`);
  const empty = serving.length === 0 && old.length === 0 && state.pending === undefined;
  if (empty) parts.push(isWorkload && state.desired === 0 ? "scaled to 0: no pod uses the credential" : "no Ready pod");
  const worst = lagging.map((one) => one.probe?.state).sort((a, b) => rank(a) - rank(b))[0];
  const ok =
    state.pending === undefined &&
    old.length === 0 &&
    lagging.length === 0 &&
    (serving.length > 0 || (empty && state.desired === 0));
  const report: ProbeReport = {
    state: ok
      ? "converged"
      : // A rollout the controller has not caught up with is a wait, not a failure: nothing to ask yet.
        (worst ??
        (serving.length === 0 && old.length === 0 && state.pending === undefined ? "unreachable" : "other-credential")),
    detail: parts.join("; "),
    pods,
  };
  const reported = converged[0]?.probe?.reported ?? lagging[0]?.probe?.reported;
  if (reported !== undefined) report.reported = reported;
  // Authenticated only when every pod asked says so (watch reports the ones that do not).
  if (serving.length > 0) report.authenticated = serving.every((one) => one.probe?.authenticated === true);
  return report;
}

const RANK: Record<string, number> = {
  unreachable: 0,
  "bad-response": 1,
  "not-authenticated": 2,
  "other-credential": 3,
  "other-webhook-tokens": 4,
};
function rank(state: string | undefined): number {
  return RANK[state ?? ""] ?? 9;
}

function reports(asked: Asked[]): PodReport[] {
  return asked.map((one) => one.report);
}

function podName(pod: K8s.V1Pod): string {
  return pod.metadata?.name ?? "(unnamed pod)";
}

function revisionOf(pod: K8s.V1Pod): string {
  const labels = pod.metadata?.labels ?? {};
  return labels["pod-template-hash"] ?? labels["controller-revision-hash"] ?? "";
}

function names(pods: K8s.V1Pod[]): string {
  const all = pods.map(podName);
  return all.length <= NAMES_SHOWN
    ? all.join(", ")
    : `${all.slice(0, NAMES_SHOWN).join(", ")} and ${all.length - NAMES_SHOWN} more`;
}
