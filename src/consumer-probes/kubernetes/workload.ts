/**
 * One look at a workload's pods, as the API server sees them now: which pods run the workload's current revision,
 * which are left over from an earlier one (a rollout not finished), and whether the controller has caught up with
 * the last change to the workload. Read afresh at every poll, so pods that appear are seen and pods that are
 * deleted are forgotten.
 *
 * Current revision, per kind: a Deployment's newest ReplicaSet (the one whose revision the Deployment carries, once
 * its status has observed its generation), a StatefulSet's status.updateRevision, a DaemonSet's newest
 * ControllerRevision. A selector has no revisions: every pod is current.
 */
import type * as K8s from "@kubernetes/client-node";
import type { KubernetesClient } from "../../kubernetes-client/client.js";
import { parseWorkload, type WorkloadKind } from "./schema.js";

/** The template annotations a restart by rotator sets: kubectl's, and which run did it. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
export const RESTARTED_FOR = "rotator/restarted-for-run";
/** Set when a rollback restarts the workload again, so that happens once per run too. */
export const RESTORED_FOR = "rotator/restored-for-run";

const DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision";

export interface WorkloadState {
  /** Pods of the current revision, in name order. */
  current: K8s.V1Pod[];
  /** Pods of earlier revisions still there (terminating ones included): the rollout is not over. */
  old: K8s.V1Pod[];
  /** The current revision's hash; "" for a selector. */
  revision: string;
  /** Why the pods cannot be judged yet (the controller has not observed the latest change). */
  pending?: string;
  /** How many pods the workload wants, when it says (not for a DaemonSet or a selector). */
  desired?: number;
  /** The pod template's annotations (the restart guard reads them); empty for a selector. */
  templateAnnotations: Record<string, string>;
}

export interface WorkloadTarget {
  namespace: string;
  workload?: string | undefined;
  selector?: string | undefined;
}

export async function discover(client: KubernetesClient, target: WorkloadTarget): Promise<WorkloadState> {
  const { namespace } = target;
  if (target.workload === undefined) {
    const pods = await listPods(client, namespace, target.selector ?? "");
    return { current: pods, old: [], revision: "", templateAnnotations: {} };
  }
  const { kind, name } = parseWorkload(target.workload);
  switch (kind) {
    case "deployment":
      return deploymentState(client, namespace, await client.apps.readNamespacedDeployment({ name, namespace }));
    case "statefulset":
      return statefulSetState(client, namespace, await client.apps.readNamespacedStatefulSet({ name, namespace }));
    case "daemonset":
      return daemonSetState(client, namespace, await client.apps.readNamespacedDaemonSet({ name, namespace }));
  }
}

async function deploymentState(
  client: KubernetesClient,
  namespace: string,
  deployment: K8s.V1Deployment,
): Promise<WorkloadState> {
  const selector = selectorString(deployment.spec?.selector);
  const [replicaSets, pods] = await Promise.all([
    client.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }),
    listPods(client, namespace, selector),
  ]);
  const owned = replicaSets.items.filter((rs) => ownedBy(rs, deployment));
  const revision = deployment.metadata?.annotations?.[DEPLOYMENT_REVISION];
  const newest = owned.find((rs) => rs.metadata?.annotations?.[DEPLOYMENT_REVISION] === revision);
  const base = {
    desired: deployment.spec?.replicas ?? 1,
    templateAnnotations: deployment.spec?.template?.metadata?.annotations ?? {},
  };
  const caughtUp = (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  if (!caughtUp || newest === undefined) {
    // Which ReplicaSet is current is not known yet: no pod is judged until the controller catches up.
    return {
      ...base,
      current: [],
      old: [],
      revision: "",
      pending: `the Deployment controller has not rolled out generation ${deployment.metadata?.generation} yet (${pods.length} pod(s))`,
    };
  }
  const podsOf = (rs: K8s.V1ReplicaSet) => pods.filter((pod) => ownedBy(pod, rs));
  return {
    ...base,
    current: podsOf(newest),
    old: owned.filter((rs) => rs !== newest).flatMap(podsOf),
    revision: newest.metadata?.labels?.["pod-template-hash"] ?? revision ?? "",
  };
}

async function statefulSetState(
  client: KubernetesClient,
  namespace: string,
  statefulSet: K8s.V1StatefulSet,
): Promise<WorkloadState> {
  const pods = (await listPods(client, namespace, selectorString(statefulSet.spec?.selector))).filter((pod) =>
    ownedBy(pod, statefulSet),
  );
  const revision = statefulSet.status?.updateRevision ?? "";
  const caughtUp = (statefulSet.status?.observedGeneration ?? 0) >= (statefulSet.metadata?.generation ?? 0);
  const base = {
    desired: statefulSet.spec?.replicas ?? 1,
    templateAnnotations: statefulSet.spec?.template?.metadata?.annotations ?? {},
  };
  if (!caughtUp || revision === "") {
    return {
      ...base,
      current: [],
      old: [],
      revision: "",
      pending: `the StatefulSet controller has not rolled out generation ${statefulSet.metadata?.generation} yet (${pods.length} pod(s))`,
    };
  }
  return { ...base, ...splitByRevisionLabel(pods, revision), revision: shortRevision(revision) };
}

async function daemonSetState(
  client: KubernetesClient,
  namespace: string,
  daemonSet: K8s.V1DaemonSet,
): Promise<WorkloadState> {
  const selector = selectorString(daemonSet.spec?.selector);
  const [revisions, allPods] = await Promise.all([
    client.apps.listNamespacedControllerRevision({ namespace, labelSelector: selector }),
    listPods(client, namespace, selector),
  ]);
  const pods = allPods.filter((pod) => ownedBy(pod, daemonSet));
  const newest = revisions.items
    .filter((revision) => ownedBy(revision, daemonSet))
    .sort((a, b) => b.revision - a.revision)[0];
  const hash = newest?.metadata?.labels?.["controller-revision-hash"] ?? "";
  const caughtUp = (daemonSet.status?.observedGeneration ?? 0) >= (daemonSet.metadata?.generation ?? 0);
  const base = { templateAnnotations: daemonSet.spec?.template?.metadata?.annotations ?? {} };
  if (!caughtUp || hash === "") {
    return {
      ...base,
      current: [],
      old: [],
      revision: "",
      pending: `the DaemonSet controller has not rolled out generation ${daemonSet.metadata?.generation} yet (${pods.length} pod(s))`,
    };
  }
  return { ...base, ...splitByRevisionLabel(pods, hash), revision: hash };
}

function splitByRevisionLabel(pods: K8s.V1Pod[], revision: string): { current: K8s.V1Pod[]; old: K8s.V1Pod[] } {
  const label = (pod: K8s.V1Pod) => pod.metadata?.labels?.["controller-revision-hash"];
  // A StatefulSet's updateRevision is the ControllerRevision's name (<set>-<hash>); its pods carry that name.
  return {
    current: pods.filter((pod) => label(pod) === revision),
    old: pods.filter((pod) => label(pod) !== revision),
  };
}

/** `web-6d4cf56db6` → `6d4cf56db6`: what people compare with `kubectl get pods` output. */
function shortRevision(revision: string): string {
  return revision.slice(revision.lastIndexOf("-") + 1);
}

async function listPods(client: KubernetesClient, namespace: string, labelSelector: string): Promise<K8s.V1Pod[]> {
  const list = await client.core.listNamespacedPod({ namespace, labelSelector });
  return list.items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
}

function ownedBy(object: { metadata?: K8s.V1ObjectMeta }, owner: { metadata?: K8s.V1ObjectMeta }): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && (object.metadata?.ownerReferences ?? []).some((reference) => reference.uid === uid);
}

/** A LabelSelector as the `labelSelector` query parameter writes it. */
export function selectorString(selector: K8s.V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(",");
    switch (expression.operator) {
      case "In":
        parts.push(`${expression.key} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${expression.key} notin (${values})`);
        break;
      case "Exists":
        parts.push(expression.key);
        break;
      case "DoesNotExist":
        parts.push(`!${expression.key}`);
        break;
    }
  }
  return parts.join(",");
}

/** Ready, not terminating, with an address: the pods the probe asks. */
export function isServing(pod: K8s.V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    (pod.status?.podIP ?? "") !== "" &&
    (pod.status?.conditions ?? []).some((condition) => condition.type === "Ready" && condition.status === "True")
  );
}

/** The template annotations to patch, and the API call that patches them, for a workload. */
export async function patchTemplate(
  client: KubernetesClient,
  namespace: string,
  workload: string,
  annotations: Record<string, string>,
): Promise<number | undefined> {
  const { kind, name } = parseWorkload(workload);
  const body = { spec: { template: { metadata: { annotations } } } };
  const patchers: Record<WorkloadKind, () => Promise<{ metadata?: K8s.V1ObjectMeta }>> = {
    deployment: () => client.apps.patchNamespacedDeployment({ name, namespace, body }, client.mergePatch),
    statefulset: () => client.apps.patchNamespacedStatefulSet({ name, namespace, body }, client.mergePatch),
    daemonset: () => client.apps.patchNamespacedDaemonSet({ name, namespace, body }, client.mergePatch),
  };
  return (await patchers[kind]()).metadata?.generation;
}
