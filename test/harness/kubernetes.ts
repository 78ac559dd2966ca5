/**
 * Helpers for tests on the harness's Kubernetes API server (test/harness/servers/kubernetes.ts), through the
 * official client: an admin client, a namespace of the test's own, and identities with exactly the RBAC rules a
 * test gives (a ServiceAccount, a Role, a RoleBinding, and a token from TokenRequest), so that what rotator may
 * do is what a least-rights Role lets it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { packageRoot } from "../../src/util/package-root.js";
import { kubeconfigFor } from "./servers/kubernetes.js";
import type { ServerEndpoints } from "./servers.js";

export interface Kube {
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  batch: k8s.BatchV1Api;
  extensions: k8s.ApiextensionsV1Api;
  custom: k8s.CustomObjectsApi;
  objects: k8s.KubernetesObjectApi;
  /** Options for a patch call whose body is a JSON merge patch. */
  mergePatch: k8s.ConfigurationOptions;
}

type Endpoints = Pick<ServerEndpoints, "kubernetes">;

/** A client acting as `token` (default: the harness's admin, in system:masters). */
export function kubeClient(endpoints: Endpoints, token = endpoints.kubernetes.token): Kube {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: "test",
        server: endpoints.kubernetes.server,
        caData: Buffer.from(endpoints.kubernetes.caPem).toString("base64"),
      },
    ],
    users: [{ name: "test", token }],
    contexts: [{ name: "test", cluster: "test", user: "test" }],
    currentContext: "test",
  });
  return {
    core: kubeConfig.makeApiClient(k8s.CoreV1Api),
    apps: kubeConfig.makeApiClient(k8s.AppsV1Api),
    rbac: kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api),
    batch: kubeConfig.makeApiClient(k8s.BatchV1Api),
    extensions: kubeConfig.makeApiClient(k8s.ApiextensionsV1Api),
    custom: kubeConfig.makeApiClient(k8s.CustomObjectsApi),
    objects: k8s.KubernetesObjectApi.makeApiClient(kubeConfig),
    mergePatch: k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  };
}

export const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString("hex")}`;

/**
 * A namespace of the test's own. With `pods`, waits until the controller-manager made its `default`
 * ServiceAccount: until then the ServiceAccount admission plugin refuses every Pod, as on a real cluster.
 */
export async function freshNamespace(kube: Kube, prefix: string, options: { pods?: boolean } = {}): Promise<string> {
  const name = unique(prefix);
  await kube.core.createNamespace({ body: { metadata: { name } } });
  if (options.pods) {
    await until(async () => {
      try {
        await kube.core.readNamespacedServiceAccount({ name: "default", namespace: name });
        return true;
      } catch {
        return false;
      }
    }, 60_000);
  }
  return name;
}

export async function deleteNamespace(kube: Kube, name: string): Promise<void> {
  await kube.core.deleteNamespace({ name }).catch(() => undefined);
}

export interface TestIdentity {
  /** A bearer token of the ServiceAccount (TokenRequest, one hour). A secret: tests scan output for it. */
  token: string;
  serviceAccount: string;
  /** Replace the Role's rules (a grant withdrawn, or given back). */
  setRules(rules: k8s.V1PolicyRule[]): Promise<void>;
  /** A kubeconfig file in `dir` acting as this identity. */
  kubeconfig(dir: string, name?: string): string;
}

/** A ServiceAccount bound to a Role with exactly `rules` in `namespace`. */
export async function identityWithRules(
  kube: Kube,
  endpoints: Endpoints,
  namespace: string,
  rules: k8s.V1PolicyRule[],
  name = unique("rotator"),
): Promise<TestIdentity> {
  await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await kube.rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await kube.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
  const issued = await kube.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = issued.status?.token;
  if (token === undefined) throw new Error("TokenRequest returned no token");
  return {
    token,
    serviceAccount: name,
    async setRules(next) {
      const role = await kube.rbac.readNamespacedRole({ name, namespace });
      await kube.rbac.replaceNamespacedRole({ name, namespace, body: { ...role, rules: next } });
    },
    kubeconfig(dir, file = `${name}.kubeconfig`) {
      const path = join(dir, file);
      writeFileSync(path, kubeconfigFor(endpoints.kubernetes.server, endpoints.kubernetes.caFile, token), {
        mode: 0o600,
      });
      return path;
    },
  };
}

/**
 * The rules rotator's `kubernetes-secret` store needs on one Secret (as config/examples/kubernetes/rbac.yaml); with
 * `absent`, for a Secret rotator will create, delete on it too (a rollback removes what the run created).
 */
export function secretStoreRules(secretName: string, options: { absent?: boolean } = {}): k8s.V1PolicyRule[] {
  return [
    {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: [secretName],
      verbs: options.absent ? ["get", "update", "delete"] : ["get", "update"],
    },
    {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: [`${secretName}-rotator-backup`],
      verbs: ["get", "update", "delete"],
    },
    { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
  ];
}

/** The rules of the Role in config/examples/kubernetes/rbac.yaml: the README's least rights, as shipped. */
export function exampleRoleRules(): k8s.V1PolicyRule[] {
  const text = readFileSync(join(packageRoot(), "config", "examples", "kubernetes", "rbac.yaml"), "utf8");
  const role = parseAllDocuments(text)
    .map((document) => document.toJS() as { kind?: string; rules?: k8s.V1PolicyRule[] })
    .find((object) => object.kind === "Role");
  if (role?.rules === undefined) throw new Error("config/examples/kubernetes/rbac.yaml has no Role with rules");
  return role.rules;
}

/** Poll a condition until it holds, or fail after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs = 30_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The Secret's data, decoded; undefined when there is no such Secret. */
export async function secretData(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    const secret = await kube.core.readNamespacedSecret({ name, namespace });
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]),
    );
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export function encodeData(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
}

/**
 * A CRD whose schema accepts anything (x-kubernetes-preserve-unknown-fields): enough to store and dry-run objects
 * of an operator the harness does not install (External Secrets Operator, the Secrets Store CSI driver). Made once,
 * shared by every test; resolves once the API server serves it.
 */
export async function ensureOpenCrd(
  kube: Kube,
  crd: { group: string; kind: string; plural: string; version: string },
): Promise<void> {
  const name = `${crd.plural}.${crd.group}`;
  try {
    await kube.extensions.createCustomResourceDefinition({
      body: {
        metadata: { name },
        spec: {
          group: crd.group,
          scope: "Namespaced",
          names: { kind: crd.kind, plural: crd.plural, singular: crd.kind.toLowerCase() },
          versions: [
            {
              name: crd.version,
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
  await until(
    async () => {
      const made = await kube.extensions.readCustomResourceDefinition({ name });
      return (made.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
    },
    30_000,
    `CRD ${name} established`,
  );
}
