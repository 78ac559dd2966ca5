/**
 * A Kubernetes Secret External Secrets Operator keeps in step with an AWS secret, for `syncedFrom` tests: an
 * ExternalSecret `twilio` that fills Secret `twilio-eso` (owned by it, as ESO's creationPolicy Owner makes it)
 * from a new AWS secret, and the test's stand-in for the operator: it copies AWSCURRENT into the Secret whenever
 * the ExternalSecret's force-sync annotation changes (its refreshInterval is an hour), while it is running. The
 * test writes the config from the two store entries (the AWS secret, named "aws", and "k8s-mirror" synced from it).
 */
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import {
  deleteNamespace,
  encodeData,
  ensureOpenCrd,
  freshNamespace,
  identityWithRules,
  kubeClient,
} from "../harness/kubernetes.js";
import { awsClient } from "../harness/servers.js";
import type { Workspace } from "./harness.js";
import type { ServerE2e } from "./server-e2e.js";

export interface EsoOptions {
  /** The AWS secret's first value (its JSON fields). */
  value: Record<string, string>;
  /** The Secret's keys for an AWS value, as the ExternalSecret's template would map them. */
  fields(value: Record<string, string>): Record<string, string>;
  /** Writes the test's config with these store entries: the AWS secret, then the synced Secret. */
  writeConfig(stores: Array<Record<string, unknown>>): Promise<void>;
}

export async function esoFixture(e2e: ServerE2e, ws: Workspace, options: EsoOptions) {
  const kube = kubeClient(e2e.servers);
  await ensureOpenCrd(kube, {
    group: "external-secrets.io",
    kind: "ExternalSecret",
    plural: "externalsecrets",
    version: "v1",
  });
  const namespace = await freshNamespace(kube, "eso");
  e2e.onTeardown(() => deleteNamespace(kube, namespace));
  const aws = await e2e.awsStore(ws, options.value);
  const external = (await kube.custom.createNamespacedCustomObject({
    group: "external-secrets.io",
    version: "v1",
    namespace,
    plural: "externalsecrets",
    body: {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "twilio" },
      spec: { refreshInterval: "1h", target: { name: "twilio-eso" }, dataFrom: [{ extract: { key: aws.secretId } }] },
    },
  })) as { metadata: { uid: string } };
  await kube.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name: "twilio-eso",
        ownerReferences: [
          {
            apiVersion: "external-secrets.io/v1",
            kind: "ExternalSecret",
            name: "twilio",
            uid: external.metadata.uid,
            controller: true,
          },
        ],
      },
      data: encodeData(options.fields(options.value)),
    },
  });
  const sm = awsClient(e2e.servers);
  const syncer = {
    running: true,
    /** When set, it copies no more than this many times (a syncer that stops catching up part-way). */
    limit: undefined as number | undefined,
    /** When it copied, and the Secret's keys it wrote each time. */
    synced: [] as string[],
    keys: [] as string[][],
    lastSeen: "",
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const es = (await kube.custom.getNamespacedCustomObject({
        group: "external-secrets.io",
        version: "v1",
        namespace,
        plural: "externalsecrets",
        name: "twilio",
      })) as { metadata: { annotations?: Record<string, string> } };
      const mark = es.metadata.annotations?.["force-sync"] ?? "";
      const allowed = syncer.limit === undefined || syncer.synced.length < syncer.limit;
      if (syncer.running && allowed && mark !== syncer.lastSeen) {
        syncer.lastSeen = mark;
        const got = await sm.send(new GetSecretValueCommand({ SecretId: aws.secretId, VersionStage: "AWSCURRENT" }));
        const data = options.fields(JSON.parse(got.SecretString ?? "{}"));
        // The whole Secret is replaced, as ESO renders it: a key the AWS value no longer has goes away.
        await kube.core.replaceNamespacedSecret({
          name: "twilio-eso",
          namespace,
          body: {
            ...(await kube.core.readNamespacedSecret({ name: "twilio-eso", namespace })),
            data: encodeData(data),
          },
        });
        syncer.synced.push(new Date().toISOString());
        syncer.keys.push(Object.keys(data).sort());
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  e2e.onTeardown(async () => {
    stopped = true;
    await loop;
    sm.destroy();
  });
  const rotator = await identityWithRules(kube, e2e.servers, namespace, [
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["twilio-eso"], verbs: ["get"] },
    { apiGroups: ["external-secrets.io"], resources: ["externalsecrets"], resourceNames: ["twilio"], verbs: ["patch"] },
  ]);
  ws.secrets.push(rotator.token);
  await options.writeConfig([
    aws.entry,
    {
      name: "k8s-mirror",
      type: "kubernetes-secret",
      namespace,
      secretName: "twilio-eso",
      syncedFrom: "aws",
      syncTimeoutSeconds: 5,
      kubeconfig: rotator.kubeconfig(ws.dir, "eso.kubeconfig"),
    },
  ]);
  return { kube, namespace, syncer, aws };
}
