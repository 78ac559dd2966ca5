/**
 * A cluster-side fixture for Kubernetes e2e tests: a namespace of the test's own on the harness's API server, the
 * Secret `twilio` holding the workspace's seeded key, a Deployment of consumer apps run by the test's kubelet, and
 * two least-rights identities (rotator's, and the pods' reader), each with a kubeconfig file in the workspace.
 * Their tokens go into the workspace's secrets, so the end-of-file scan looks for them too.
 */
import { randomInt } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import {
  deleteNamespace,
  encodeData,
  exampleRoleRules,
  freshNamespace,
  identityWithRules,
  type Kube,
  kubeClient,
} from "../harness/kubernetes.js";
import type { ServerEndpoints } from "../harness/servers.js";
import type { ConsumerOptions } from "./consumer-fleet.js";
import type { Workspace } from "./harness.js";
import { type PodLaunch, TestKubelet } from "./kubelet.js";

export const SECRET = "twilio";
export const APP_LABEL = { app: "web" };

export interface ClusterFixture {
  kube: Kube;
  namespace: string;
  port: number;
  kubelet: TestKubelet;
  /** Rotator's kubeconfig (least rights for the store and the consumer), and the token in it. */
  rotatorKubeconfig: string;
  rotatorToken: string;
  /** The store entry rotator writes. */
  store: Record<string, unknown>;
  /** The consumer entry for deployment/web, with `extra` merged in by the caller. */
  consumer(extra?: Record<string, unknown>): Record<string, unknown>;
  /** The Deployment's current generation and template annotations. */
  deployment(): Promise<k8s.V1Deployment>;
  /** The pod-template-hash of the Deployment's pods when the fixture was made. */
  initialRevision: string;
  stop(): Promise<void>;
}

export async function makeCluster(
  endpoints: Pick<ServerEndpoints, "kubernetes">,
  ws: Workspace,
  options: {
    replicas: number;
    launch?: (pod: k8s.V1Pod) => PodLaunch | "hold";
    twilioBaseUrl: () => string;
    /**
     * What the apps are: with kind auth-token the Secret holds the workspace's seeded secret as the account's
     * Auth Token (a token workspace's), and the pods are Auth Token apps (taking webhooks with `webhooks`).
     */
    app?: Pick<ConsumerOptions, "kind" | "webhooks">;
    /** More Secrets of the namespace (name: keys and values), made before any pod starts. */
    secrets?: Record<string, Record<string, string>>;
  },
): Promise<ClusterFixture> {
  const kube = kubeClient(endpoints);
  const namespace = await freshNamespace(kube, "e2e", { pods: true });
  await kube.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: SECRET },
      type: "Opaque",
      data: encodeData({
        TWILIO_ACCOUNT_SID: ws.twilio.accountSid,
        ...(options.app?.kind === "auth-token"
          ? { TWILIO_AUTH_TOKEN: ws.seeded.secret }
          : { TWILIO_API_KEY: ws.seeded.sid, TWILIO_API_SECRET: ws.seeded.secret }),
        REGION: "us1",
      }),
    },
  });
  for (const [name, values] of Object.entries(options.secrets ?? {})) {
    await kube.core.createNamespacedSecret({ namespace, body: { metadata: { name }, data: encodeData(values) } });
  }
  // The README's least-rights Role, as shipped: it names Secret twilio and deployment/web, as this fixture does.
  const rotator = await identityWithRules(kube, endpoints, namespace, exampleRoleRules());
  const reader = await identityWithRules(kube, endpoints, namespace, [
    { apiGroups: [""], resources: ["secrets"], resourceNames: [SECRET], verbs: ["get"] },
  ]);
  ws.secrets.push(rotator.token, reader.token);
  const rotatorKubeconfig = rotator.kubeconfig(ws.dir, "rotator.kubeconfig");
  const readerKubeconfig = reader.kubeconfig(ws.dir, "reader.kubeconfig");
  const port = randomInt(20_000, 60_000);
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: "web" },
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: APP_LABEL },
        template: {
          metadata: { labels: APP_LABEL },
          spec: {
            containers: [
              {
                name: "app",
                // Never pulled: the test's kubelet runs the consumer app in its place.
                image: "example.invalid/consumer-app:test",
                ports: [{ containerPort: port }],
                envFrom: [{ secretRef: { name: SECRET } }],
              },
            ],
          },
        },
      },
    },
  });
  const kubelet = new TestKubelet({
    kube,
    namespace,
    selector: "app=web",
    port,
    store: { name: "k8s", type: "kubernetes-secret", namespace, secretName: SECRET, kubeconfig: readerKubeconfig },
    env: ws.env,
    twilioBaseUrl: options.twilioBaseUrl,
    ...(options.launch === undefined ? {} : { launch: options.launch }),
    ...(options.app === undefined ? {} : { app: options.app }),
  });
  kubelet.start();
  await kubelet.settled(options.replicas);
  const deployment = () => kube.apps.readNamespacedDeployment({ name: "web", namespace });
  const initialRevision = [...kubelet.running.values()][0]?.labels["pod-template-hash"] ?? "";
  return {
    kube,
    namespace,
    port,
    kubelet,
    rotatorKubeconfig,
    rotatorToken: rotator.token,
    initialRevision,
    store: { name: "k8s", type: "kubernetes-secret", namespace, secretName: SECRET, kubeconfig: rotatorKubeconfig },
    consumer: (extra = {}) => ({
      name: "web",
      type: "kubernetes",
      namespace,
      workload: "deployment/web",
      port,
      kubeconfig: rotatorKubeconfig,
      ...extra,
    }),
    deployment,
    async stop() {
      await kubelet.stop();
      await deleteNamespace(kube, namespace);
    },
  };
}
