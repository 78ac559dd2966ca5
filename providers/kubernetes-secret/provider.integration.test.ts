/**
 * The kubernetes-secret provider against the harness's real API server (test/harness/servers/kubernetes.ts): the
 * shared contract suite, then what is particular to Kubernetes: RBAC checked by SelfSubjectAccessReview in
 * preflight, an immutable Secret, the backup Secret, a synced Secret, and the ways to reach the server. Every
 * test acts as a ServiceAccount of its own bound to a Role with the README's least rights on its own Secret,
 * through a proxy that can hold up the write request (for the race cases).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, onTestFinished } from "vitest";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { startHttpProxy } from "../../test/harness/http-proxy.js";
import {
  deleteNamespace,
  encodeData,
  freshNamespace,
  identityWithRules,
  type Kube,
  kubeClient,
  secretData,
  secretStoreRules,
  unique,
} from "../../test/harness/kubernetes.js";
import {
  type CredentialKind,
  credentialId,
  credentialToFields,
  DOTENV_FIELD_DEFAULTS,
  fieldNamesOf,
} from "../../test/provider-contract/credentials.js";
import { rejection, runProviderContract } from "../../test/provider-contract/suite.js";
import type { StoredCredential } from "../contract.js";

import { kubernetesSecret } from "./index.js";
import { KubernetesSecretProvider } from "./provider.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const endpoints = inject("servers");
const admin: Kube = kubeClient(endpoints);
const TOKEN_ENV = "ROTATOR_TEST_KUBERNETES_TOKEN";
/** Keys an application keeps next to the credential; every write must keep them. */
const OTHERS = { REGION: "us1", WEBHOOK_URL: "https://app.example.com/hooks/twilio" };
let namespace = "";
const scratch = mkdtempSync(join(tmpdir(), "rotator-k8s-provider-"));

beforeAll(async () => {
  namespace = await freshNamespace(admin, "provider");
});
afterAll(async () => {
  await deleteNamespace(admin, namespace);
  rmSync(scratch, { recursive: true, force: true });
});

function keysOf(credential: StoredCredential): Record<string, string> {
  return credentialToFields(credential, DOTENV_FIELD_DEFAULTS);
}

function credentialKeys(kind: CredentialKind): string[] {
  return fieldNamesOf(kind, DOTENV_FIELD_DEFAULTS);
}

async function seedSecret(name: string, values: Record<string, string>, extra: Record<string, unknown> = {}) {
  await admin.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, type: "Opaque", data: encodeData(values), ...extra },
  });
}

/**
 * The contract's harness. `empty` says what a store "without a credential" is: no Secret at all (the write
 * creates it, rollback deletes it), or a Secret holding only the application's other keys.
 */
function contractHarness(empty: "absent" | "others-only") {
  return {
    async create(initial: StoredCredential | undefined, kind: CredentialKind) {
      const secretName = unique("twilio");
      const rules = secretStoreRules(secretName, { absent: empty === "absent" });
      const identity = await identityWithRules(admin, endpoints, namespace, rules);
      const seed =
        initial !== undefined ? { ...OTHERS, ...keysOf(initial) } : empty === "others-only" ? OTHERS : undefined;
      if (seed !== undefined) await seedSecret(secretName, seed);
      const writePath = `/api/v1/namespaces/${namespace}/secrets/${secretName}`;
      let beforeWrite: (() => Promise<void>) | undefined;
      const proxy = await startHttpProxy(
        endpoints.kubernetes.server,
        async (request) => {
          if (request.method === "PUT" && request.path.startsWith(writePath) && beforeWrite !== undefined) {
            const action = beforeWrite;
            beforeWrite = undefined;
            await action();
          }
          return "forward" as const;
        },
        { ca: endpoints.kubernetes.caPem },
      );
      const config = kubernetesSecret.configSchema.parse({
        name: "k8s",
        type: "kubernetes-secret",
        namespace,
        secretName,
        server: proxy.endpoint,
        token: { env: TOKEN_ENV },
      });
      const env = { [TOKEN_ENV]: identity.token };
      const open = () =>
        new KubernetesSecretProvider(config, { credential: credentialTypeOf(kind), baseDir: "/", env });
      const raw = () => secretData(admin, namespace, secretName);
      const keys = credentialKeys(kind);
      return {
        provider: open(),
        reopen: open,
        secrets: [identity.token],
        raw,
        others: async () =>
          Object.fromEntries(Object.entries((await raw()) ?? {}).filter(([key]) => !keys.includes(key))),
        // An operator's `kubectl patch`: no resourceVersion condition.
        externalWrite: async (credential: StoredCredential) => {
          const current = await raw();
          const data = encodeData({ ...(current ?? {}), ...keysOf(credential) });
          if (current === undefined) await seedSecret(secretName, keysOf(credential));
          else
            await admin.core.patchNamespacedSecret({ name: secretName, namespace, body: { data } }, admin.mergePatch);
        },
        // The grant is withdrawn but for reading (a Role edited, a binding removed).
        breakStore: async () => {
          await identity.setRules([
            { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["get"] },
          ]);
          return () => identity.setRules(rules);
        },
        beforeStoreWrite: (action: () => Promise<void>) => {
          beforeWrite = action;
        },
        cleanup: async () => {
          await proxy.close();
          for (const name of [secretName, `${secretName}-rotator-backup`]) {
            await admin.core.deleteNamespacedSecret({ name, namespace }).catch(() => undefined);
          }
        },
      };
    },
  };
}

const CONTRACT = {
  capabilities: {
    checkAndSet: true,
    versioned: false,
    fence: "store",
    rollbackFencesWrites: true,
  },
  interceptsWrites: true,
  timeout: 30_000,
} as const;
runProviderContract("kubernetes-secret (no Secret when empty)", contractHarness("absent"), CONTRACT);
runProviderContract("kubernetes-secret (other keys only when empty)", contractHarness("others-only"), CONTRACT);

// ---------------------------------------------------------------------------------------------- Kubernetes specifics

const OLD: StoredCredential = {
  kind: "api-key",
  accountSid: `AC${"1".repeat(32)}`,
  apiKeySid: `SK${"a".repeat(32)}`,
  apiKeySecret: "old-secret-0123456789abcdef0123",
};
const NEW: StoredCredential = {
  ...OLD,
  apiKeySid: `SK${"b".repeat(32)}`,
  apiKeySecret: "new-secret-0123456789abcdef0123",
};

/** A Secret holding OLD and the other keys, and a provider acting as an identity with `rules` (default: least). */
async function k8sStore(
  options: { rules?: "least" | "read-only"; extra?: Record<string, unknown>; config?: Record<string, unknown> } = {},
) {
  const secretName = unique("twilio");
  const least = secretStoreRules(secretName);
  const rules =
    options.rules === "read-only"
      ? [{ apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["get"] }]
      : least;
  const identity = await identityWithRules(admin, endpoints, namespace, rules);
  await seedSecret(secretName, { ...OTHERS, ...keysOf(OLD) }, options.extra);
  onTestFinished(async () => {
    for (const name of [secretName, `${secretName}-rotator-backup`]) {
      await admin.core.deleteNamespacedSecret({ name, namespace }).catch(() => undefined);
    }
  });
  const config = kubernetesSecret.configSchema.parse({
    name: "k8s",
    type: "kubernetes-secret",
    namespace,
    secretName,
    server: endpoints.kubernetes.server,
    token: { env: TOKEN_ENV },
    caFile: endpoints.kubernetes.caFile,
    ...options.config,
  });
  const provider = new KubernetesSecretProvider(config, {
    credential: credentialTypeOf("api-key"),
    baseDir: "/",
    env: { [TOKEN_ENV]: identity.token },
  });
  onTestFinished(() => provider.close());
  return { secretName, identity, provider, least };
}

describe("kubernetes-secret: RBAC, checked without changing anything", () => {
  it("preflight names each missing right and the Role rule that grants it, and writes nothing", async () => {
    const { secretName, provider } = await k8sStore({ rules: "read-only" });
    const before = await admin.core.readNamespacedSecret({ name: secretName, namespace });

    const error = await rejection(provider.preflight());

    expect(error.kind).toBe("fatal");
    expect(error.message).toContain(`"update" on secrets "${secretName}"`);
    expect(error.message).toContain(`"create" on secrets`);
    expect(error.message).toContain(`resourceNames: ["${secretName}-rotator-backup"]`);
    expect(error.message).toContain("the README's Kubernetes section");
    const after = await admin.core.readNamespacedSecret({ name: secretName, namespace });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await secretData(admin, namespace, `${secretName}-rotator-backup`)).toBeUndefined();
  });

  it("passes with exactly the least-rights Role", async () => {
    const { provider } = await k8sStore();
    const { snapshot } = await provider.preflight();
    expect(snapshot.credential).toEqual(OLD);
  });
});

describe("kubernetes-secret: what it refuses", () => {
  it("an immutable Secret, in preflight and at the write, before anything changes", async () => {
    const { secretName, provider } = await k8sStore({ extra: { immutable: true } });
    const error = await rejection(provider.preflight());
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain(`Secret ${namespace}/${secretName} is immutable`);
    expect(await secretData(admin, namespace, `${secretName}-rotator-backup`)).toBeUndefined();
  });

  it("a backup Secret another run left: preflight says which run, and how to clear it", async () => {
    const { secretName, provider } = await k8sStore();
    await seedSecret(`${secretName}-rotator-backup`, keysOf(OLD), {
      metadata: { name: `${secretName}-rotator-backup`, annotations: { "rotator/run": "20260101T000000Z-abcdef" } },
    });
    const error = await rejection(provider.preflight());
    expect(error.kind).toBe("needs-operator");
    expect(error.message).toContain("20260101T000000Z-abcdef");
    expect(error.message).toContain(`kubectl delete secret -n ${namespace} ${secretName}-rotator-backup`);
  });

  it("a synced Secret is never prepared or written", async () => {
    const { provider } = await k8sStore({ config: { syncedFrom: "aws" } });
    const error = await rejection(provider.prepare(await provider.read(), { runId: "r" }));
    expect(error.message).toContain('synced from store "aws"');
    expect(provider.sync?.from).toBe("aws");
  });
});

describe("kubernetes-secret: the backup Secret", () => {
  it("holds the credential's keys while the run is open, is owned by the Secret, and goes at release", async () => {
    const { secretName, provider } = await k8sStore();
    const { snapshot } = await provider.preflight();
    const point = JSON.parse(JSON.stringify(await provider.prepare(snapshot, { runId: "run-1" })));
    const backup = await admin.core.readNamespacedSecret({ name: `${secretName}-rotator-backup`, namespace });
    expect(backup.metadata?.annotations?.["rotator/run"]).toBe("run-1");
    expect(backup.metadata?.ownerReferences?.[0]?.name).toBe(secretName);
    expect(Object.keys(backup.data ?? {}).sort()).toEqual(credentialKeys("api-key").sort());
    expect(JSON.stringify(point)).not.toContain(Object.values(keysOf(OLD))[2]);

    await provider.write(NEW, point, { runId: "run-1" });
    await provider.rollback(point, { runId: "run-1", newKeyId: credentialId(NEW) });
    expect(await secretData(admin, namespace, secretName)).toEqual({ ...OTHERS, ...keysOf(OLD) });
    await provider.release(point, { runId: "run-1", newKeyId: "" });
    expect(await secretData(admin, namespace, `${secretName}-rotator-backup`)).toBeUndefined();
  });
});

describe("kubernetes-secret: reaching the API server", () => {
  it("through a kubeconfig and a named context; an unknown context is named with the ones there are", async () => {
    const secretName = unique("twilio");
    const identity = await identityWithRules(admin, endpoints, namespace, secretStoreRules(secretName));
    await seedSecret(secretName, keysOf(OLD));
    onTestFinished(() => admin.core.deleteNamespacedSecret({ name: secretName, namespace }).then(() => undefined));
    const kubeconfig = identity.kubeconfig(scratch);
    const open = (context?: string) =>
      new KubernetesSecretProvider(
        kubernetesSecret.configSchema.parse({
          name: "k8s",
          type: "kubernetes-secret",
          namespace,
          secretName,
          kubeconfig,
          ...(context === undefined ? {} : { context }),
        }),
        { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} },
      );
    expect((await open("test").read()).credential).toEqual(OLD);
    const error = await rejection(open("prod").read());
    expect(error.message).toContain('has no context "prod" (it has: test)');
  });

  it("$KUBECONFIG when the entry names nothing; and one identity for two spellings of the server", async () => {
    const secretName = unique("twilio");
    const identity = await identityWithRules(admin, endpoints, namespace, secretStoreRules(secretName));
    const kubeconfig = identity.kubeconfig(scratch);
    const entry = { name: "k8s", type: "kubernetes-secret", namespace, secretName };
    const viaEnv = new KubernetesSecretProvider(kubernetesSecret.configSchema.parse(entry), {
      credential: credentialTypeOf("api-key"),
      baseDir: "/",
      env: { KUBECONFIG: kubeconfig, HOME: scratch },
    });
    const viaToken = new KubernetesSecretProvider(
      kubernetesSecret.configSchema.parse({
        ...entry,
        server: endpoints.kubernetes.server.replace("127.0.0.1", "localhost"),
        token: { env: TOKEN_ENV },
      }),
      { credential: credentialTypeOf("api-key"), baseDir: "/", env: { [TOKEN_ENV]: identity.token } },
    );
    expect((await viaEnv.read()).credential).toBeUndefined();
    expect((await viaEnv.identity()).key).toBe((await viaToken.identity()).key);
    expect((await viaEnv.identity()).key).toContain(`/${namespace}/${secretName}`);
  });

  it("no kubeconfig anywhere: a fatal error that says what to give", async () => {
    const provider = new KubernetesSecretProvider(
      kubernetesSecret.configSchema.parse({ name: "k8s", type: "kubernetes-secret", namespace, secretName: "twilio" }),
      { credential: credentialTypeOf("api-key"), baseDir: "/", env: { HOME: scratch } },
    );
    const error = await rejection(provider.preflight());
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain("no kubeconfig");
    expect(error.message).toContain("server: and token: { env: NAME }");
  });
});
