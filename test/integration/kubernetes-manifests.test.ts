/**
 * The Kubernetes manifests the README gives (config/examples/kubernetes-cronjob.yaml and config/examples/kubernetes/)
 * are accepted by the real API server: every object by a server-side dry run (validation and admission, nothing
 * stored), in a namespace of the test's own. The RBAC manifest is then applied for real, and rotator, acting as
 * its ServiceAccount with a token from TokenRequest, passes preflight of the `k8s` store and the `web` consumer
 * of kubernetes.example.yaml: the least rights are enough. One right fewer, and preflight names it.
 *
 * External Secrets Operator and the Secrets Store CSI driver are not installed here: their CRDs are, reduced to
 * an open schema (x-kubernetes-preserve-unknown-fields), so the dry run checks those two objects' apiVersion,
 * kind and metadata, not their spec.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { createStoreProvider } from "../../providers/registry.js";
import { validateConfig } from "../../src/config/load.js";
import { createProbe } from "../../src/consumer-probes/index.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { packageRoot } from "../../src/util/package-root.js";
import {
  deleteNamespace,
  encodeData,
  ensureOpenCrd,
  freshNamespace,
  type Kube,
  kubeClient,
} from "../harness/kubernetes.js";

beforeEach(() => {
  expect.hasAssertions();
});

const endpoints = inject("servers");
const admin: Kube = kubeClient(endpoints);
const examples = join(packageRoot(), "config", "examples");
let namespace = "";

type Manifest = k8s.KubernetesObject & Record<string, unknown>;

/** The objects of a manifest file, moved from namespace payments into the test's. */
function manifests(file: string): Manifest[] {
  const text = readFileSync(join(examples, file), "utf8").replaceAll("namespace: payments", `namespace: ${namespace}`);
  return parseAllDocuments(text).map((document) => document.toJS() as Manifest);
}

async function dryRun(object: Manifest): Promise<void> {
  await admin.objects.create(object, undefined, "All");
}

beforeAll(async () => {
  namespace = await freshNamespace(admin, "manifests");
  await ensureOpenCrd(admin, {
    group: "external-secrets.io",
    kind: "ExternalSecret",
    plural: "externalsecrets",
    version: "v1",
  });
  await ensureOpenCrd(admin, {
    group: "secrets-store.csi.x-k8s.io",
    kind: "SecretProviderClass",
    plural: "secretproviderclasses",
    version: "v1",
  });
});
afterAll(async () => {
  await deleteNamespace(admin, namespace);
});

describe("the README's Kubernetes manifests, by server-side dry run", () => {
  it.each([
    ["kubernetes-cronjob.yaml", ["CronJob"]],
    ["kubernetes/rbac.yaml", ["ServiceAccount", "Role", "RoleBinding"]],
    ["kubernetes/external-secrets.yaml", ["ExternalSecret", "Role", "RoleBinding"]],
    ["kubernetes/csi-secret-store.yaml", ["SecretProviderClass", "Deployment", "Role", "RoleBinding"]],
  ])("%s is accepted", async (file, kinds) => {
    const objects = manifests(file);
    expect(objects.map((object) => object.kind)).toEqual(kinds);
    for (const object of objects) await dryRun(object);
    // Nothing was stored.
    const roles = await admin.rbac.listNamespacedRole({ namespace });
    expect(roles.items).toEqual([]);
  });

  it("the config ConfigMap (kubectl create configmap --from-file of kubernetes.example.yaml) is accepted", async () => {
    const text = readFileSync(join(examples, "kubernetes.example.yaml"), "utf8");
    await dryRun({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "rotator-config", namespace },
      data: { "rotator.yaml": text },
    });
    expect(validateConfig(parseAllDocuments(text)[0]?.toJS(), "kubernetes.example.yaml").stores).toHaveLength(3);
  });

  it("a dry run is not a rubber stamp: a CronJob with an invalid schedule is refused", async () => {
    const [job] = manifests("kubernetes-cronjob.yaml") as [Manifest & { spec: { schedule: string } }];
    job.spec.schedule = "every night";
    await expect(dryRun(job)).rejects.toMatchObject({ code: 422 });
  });
});

describe("the least-rights Role, applied", () => {
  /** rbac.yaml for real, the Secret and Deployment it names, and a token of its ServiceAccount. */
  async function applied(
    rules?: (rules: k8s.V1PolicyRule[]) => k8s.V1PolicyRule[],
  ): Promise<{ ns: string; token: string }> {
    const ns = await freshNamespace(admin, "rbac");
    const text = readFileSync(join(examples, "kubernetes/rbac.yaml"), "utf8").replaceAll(
      "namespace: payments",
      `namespace: ${ns}`,
    );
    for (const object of parseAllDocuments(text).map((d) => d.toJS() as Manifest & { rules?: k8s.V1PolicyRule[] })) {
      if (object.kind === "Role" && rules !== undefined) object.rules = rules(object.rules ?? []);
      await admin.objects.create(object);
    }
    await admin.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "twilio" }, data: encodeData({ TWILIO_ACCOUNT_SID: `AC${"1".repeat(32)}` }) },
    });
    await admin.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "app", image: "example.invalid/app" }] },
          },
        },
      },
    });
    const token = await admin.core.createNamespacedServiceAccountToken({
      name: "rotator",
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    namespaces.push(ns);
    return { ns, token: token.status?.token ?? "" };
  }
  const namespaces: string[] = [];
  afterAll(async () => {
    for (const ns of namespaces) await deleteNamespace(admin, ns);
  });

  /** kubernetes.example.yaml's `k8s` store and `web` consumer, in namespace `ns`, acting with `token`. */
  function example(ns: string, token: string) {
    const text = readFileSync(join(examples, "kubernetes.example.yaml"), "utf8").replaceAll(
      "namespace: payments",
      `namespace: ${ns}`,
    );
    const config = validateConfig(parseAllDocuments(text)[0]?.toJS(), "kubernetes.example.yaml");
    const connection = {
      server: endpoints.kubernetes.server,
      token: { env: "SA_TOKEN" },
      caFile: endpoints.kubernetes.caFile,
    };
    const env = { SA_TOKEN: token };
    const storeEntry = config.stores.find((s) => s.name === "k8s");
    const consumerEntry = config.consumers.find((c) => c.name === "web");
    if (storeEntry?.type !== "kubernetes-secret" || consumerEntry?.type !== "kubernetes") {
      throw new Error("kubernetes.example.yaml lost its k8s store or web consumer");
    }
    const store = createStoreProvider(
      { ...storeEntry, ...connection },
      { credential: credentialTypeOf("api-key"), baseDir: "/", env },
    );
    const probe = createProbe({ ...consumerEntry, ...connection }, { baseDir: "/", env });
    return { store, probe };
  }

  it("is enough for the kubernetes-secret store's preflight and the kubernetes consumer's checks", async () => {
    const { ns, token } = await applied();
    const { store, probe } = example(ns, token);
    const { snapshot } = await (await store).preflight();
    expect(snapshot.version).toBeDefined();
    const report = await probe.check({ kind: "api-key", id: `SK${"2".repeat(32)}` });
    expect(report.detail).toBe("scaled to 0: no pod uses the credential");
    expect(report.state).toBe("converged");
  });

  it("without the rule that lets it restart the Deployment, the consumer's check names that rule", async () => {
    const withoutPatch = (rules: k8s.V1PolicyRule[]) =>
      rules.map((rule) => (rule.resources?.includes("deployments") ? { ...rule, verbs: ["get"] } : rule));
    const { ns, token } = await applied(withoutPatch);
    const { probe } = example(ns, token);
    const report = await probe.check({ kind: "api-key", id: `SK${"2".repeat(32)}` });
    expect(report.state).toBe("unreachable");
    expect(report.detail).toContain('"patch" on deployments.apps "web" (to restart it (rollout))');
    expect(report.detail).toContain(
      '{ apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["web"], verbs: ["patch"] }',
    );
  });
});
