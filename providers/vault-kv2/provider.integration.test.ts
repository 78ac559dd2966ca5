/**
 * The vault-kv2 provider against a real OpenBao dev server (test/harness/servers.ts): the shared contract suite,
 * then what is particular to Vault: version numbers, check-and-set, AppRole, policies, mounts, namespaces and an
 * outage. Every test works on its own secret path, policy and token, so tests can run in parallel on the shared
 * server; the outage tests start their own server.
 *
 * Kubernetes login is not tested here: there is no Kubernetes. provider.test.ts checks the request it makes.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, onTestFinished } from "vitest";
import type { ApiKeyCredential } from "../../src/credentials/api-key/credential.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { startHttpProxy } from "../../test/harness/http-proxy.js";
import { type RunningServers, type ServerEndpoints, startServers, vaultClient } from "../../test/harness/servers.js";
import type { CredentialKind } from "../../test/provider-contract/credentials.js";
import {
  credentialId,
  credentialToFields,
  fieldNamesOf,
  JSON_FIELD_DEFAULTS,
} from "../../test/provider-contract/credentials.js";
import { rejection, runProviderContract } from "../../test/provider-contract/suite.js";
import type { StoredCredential } from "../contract.js";
import type { StoreError } from "../errors.js";

import { vaultKv2 } from "./index.js";
import { VaultKv2Provider } from "./provider.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const endpoints = inject("servers");
const root = vaultClient(endpoints);
const TOKEN_ENV = "ROTATOR_TEST_VAULT_TOKEN";
/** Keys an application keeps next to the credential; every write must keep them. */
const OTHERS = { region: "us1", webhookUrl: "https://app.example.com/hooks/twilio", retries: 3 };
const FAST_RETRY = { retries: 2, minTimeoutMs: 20, maxTimeoutMs: 50, maxRetryTimeMs: 2_000 };

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Vault's answer for a path, or undefined on 404 (no secret, or its latest version deleted). */
async function rootRead(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await root.read(path)).data;
  } catch (error) {
    if ((error as { response?: { statusCode?: number } }).response?.statusCode === 404) return undefined;
    throw error;
  }
}

async function currentData(mount: string, path: string): Promise<Record<string, unknown> | undefined> {
  const data = (await rootRead(`${mount}/data/${path}`))?.data;
  return data === null ? undefined : (data as Record<string, unknown> | undefined);
}

async function metadata(
  mount: string,
  path: string,
): Promise<{ current_version: number; versions: Record<string, { deletion_time: string; destroyed: boolean }> }> {
  return (await root.read(`${mount}/metadata/${path}`)).data;
}

function policyFor(mount: string, path: string, data: string[]): string {
  return [
    `path "${mount}/data/${path}" { capabilities = [${data.map((c) => `"${c}"`).join(", ")}] }`,
    `path "${mount}/delete/${path}" { capabilities = ["update"] }`,
    `path "${mount}/metadata/${path}" { capabilities = ["read"] }`,
  ].join("\n");
}

const FULL = ["create", "read", "update"];

/** A policy and a token holding only it (and "default"), with the means to change the policy and remove both. */
async function createToken(policy: string) {
  const policyName = unique("rotator-test");
  const setPolicy = async (text: string) => {
    await root.write(`sys/policies/acl/${policyName}`, { policy: text });
  };
  await setPolicy(policy);
  const created = await root.write("auth/token/create", { policies: [policyName], ttl: "15m" });
  const token: string = created.auth.client_token;
  const remove = async () => {
    await root.write("auth/token/revoke", { token }).catch(() => undefined);
    await root.delete(`sys/policies/acl/${policyName}`).catch(() => undefined);
  };
  return { token, policyName, setPolicy, remove };
}

/** createToken, removed when the test ends. */
async function tokenWithPolicy(policy: string) {
  const created = await createToken(policy);
  onTestFinished(created.remove);
  return created;
}

interface StoreOptions {
  kind?: CredentialKind;
  mount?: string;
  path?: string;
  policy?: string[];
  config?: Record<string, unknown>;
  env?: Record<string, string>;
}

/** A provider on a fresh path (deleted when the test ends), with a token whose policy allows `policy` on it. */
async function vaultStore(options: StoreOptions = {}) {
  const mount = options.mount ?? "secret";
  const path = options.path ?? unique("rotator-test/twilio");
  const { token, policyName, setPolicy } = await tokenWithPolicy(policyFor(mount, path, options.policy ?? FULL));
  onTestFinished(() => root.delete(`${mount}/metadata/${path}`).catch(() => undefined));
  const config = vaultKv2.configSchema.parse({
    name: "vault",
    type: "vault-kv2",
    address: endpoints.vault.address,
    mount,
    path,
    auth: { method: "token", token: { env: TOKEN_ENV } },
    ...options.config,
  });
  const env = { [TOKEN_ENV]: token, ...options.env };
  const open = (kind: CredentialKind = options.kind ?? "api-key", overrides: Record<string, unknown> = {}) =>
    new VaultKv2Provider(
      vaultKv2.configSchema.parse({ ...config, ...overrides }),
      { credential: credentialTypeOf(kind), baseDir: "/", env },
      { retry: FAST_RETRY },
    );
  return { mount, path, token, policyName, setPolicy, config, env, open, provider: open() };
}

function fields(credential: StoredCredential): Record<string, string> {
  return credentialToFields(credential, JSON_FIELD_DEFAULTS);
}

function credentialKeys(kind: CredentialKind): string[] {
  return fieldNamesOf(kind, JSON_FIELD_DEFAULTS);
}

/** The AppRole auth mount the contract's AppRole stores log in at, enabled once per file. */
let contractAppRoleMount: Promise<string> | undefined;
afterAll(async () => {
  if (contractAppRoleMount === undefined) return;
  const mount = await contractAppRoleMount;
  await root.delete(`sys/auth/${mount}`).catch(() => undefined);
});

/** A role on the contract's AppRole mount whose token gets `policyName`, with its role_id and a fresh secret_id. */
async function contractAppRole(policyName: string) {
  contractAppRoleMount ??= (async () => {
    const mount = unique("approle-contract");
    await root.write(`sys/auth/${mount}`, { type: "approle" });
    return mount;
  })();
  const mount = await contractAppRoleMount;
  const role = unique("rotator");
  await root.write(`auth/${mount}/role/${role}`, { token_policies: [policyName], token_ttl: "10m" });
  const roleId: string = (await root.read(`auth/${mount}/role/${role}/role-id`)).data.role_id;
  const secretId: string = (await root.write(`auth/${mount}/role/${role}/secret-id`, {})).data.secret_id;
  const remove = () => root.delete(`auth/${mount}/role/${role}`).then(() => undefined);
  return { mount, roleId, secretId, remove };
}

/**
 * The contract's harness. `empty` says what a store "without a credential" is: no secret at all (the write
 * creates it, rollback deletes that version), or a secret holding only the application's other keys. `auth` is
 * how the provider gets its token: given in an environment variable, or by an AppRole login.
 *
 * The provider talks to OpenBao through a proxy, which holds up its data write for `beforeStoreWrite` and
 * collects every token it sends, so the leak scan looks for the login's token too.
 */
function contractHarness(empty: "absent" | "others-only", auth: "token" | "approle" = "token") {
  return {
    async create(initial: StoredCredential | undefined, kind: CredentialKind) {
      const mount = "secret";
      const path = unique("rotator-contract/twilio");
      // The contract calls `cleanup` itself, also after a failed test.
      const { token, policyName, setPolicy, remove } = await createToken(policyFor(mount, path, FULL));
      const seed =
        initial !== undefined ? { ...OTHERS, ...fields(initial) } : empty === "others-only" ? OTHERS : undefined;
      if (seed !== undefined) await root.write(`${mount}/data/${path}`, { data: seed });

      const secrets = [token];
      let beforeWrite: (() => Promise<void>) | undefined;
      const proxy = await startHttpProxy(endpoints.vault.address, async (request) => {
        const sent = request.headers["x-vault-token"];
        if (typeof sent === "string" && !secrets.includes(sent)) secrets.push(sent);
        if (request.method === "POST" && request.path === `/v1/${mount}/data/${path}` && beforeWrite !== undefined) {
          const action = beforeWrite;
          beforeWrite = undefined;
          await action();
        }
        return "forward" as const;
      });
      let env: Record<string, string> = { [TOKEN_ENV]: token };
      let authConfig: Record<string, unknown> = { method: "token", token: { env: TOKEN_ENV } };
      let removeRole = async () => undefined;
      if (auth === "approle") {
        const role = await contractAppRole(policyName);
        secrets.push(role.secretId);
        env = { ROTATOR_TEST_SECRET_ID: role.secretId };
        authConfig = {
          method: "approle",
          mount: role.mount,
          roleId: role.roleId,
          secretId: { env: "ROTATOR_TEST_SECRET_ID" },
        };
        removeRole = role.remove;
      }
      const config = vaultKv2.configSchema.parse({
        name: "vault",
        type: "vault-kv2",
        address: proxy.endpoint,
        path,
        auth: authConfig,
      });
      // Through the definition, as the registry builds it.
      const open = () => new VaultKv2Provider(config, { credential: credentialTypeOf(kind), baseDir: "/", env });
      const keys = credentialKeys(kind);
      const raw = () => currentData(mount, path);
      return {
        provider: open(),
        reopen: open,
        secrets,
        raw,
        versionCount: async () => {
          const meta = await rootRead(`${mount}/metadata/${path}`);
          return meta === undefined ? 0 : Object.keys(meta.versions as Record<string, unknown>).length;
        },
        others: async () =>
          Object.fromEntries(Object.entries((await raw()) ?? {}).filter(([key]) => !keys.includes(key))),
        // An operator's `bao kv patch`: no check-and-set.
        externalWrite: async (credential: StoredCredential) => {
          await root.write(`${mount}/data/${path}`, { data: { ...(await raw()), ...fields(credential) } });
        },
        // The token loses every capability but read on the secret (a policy change, a revoked grant).
        breakStore: async () => {
          await setPolicy(`path "${mount}/data/${path}" { capabilities = ["read"] }`);
          return () => setPolicy(policyFor(mount, path, FULL));
        },
        beforeStoreWrite: (action: () => Promise<void>) => {
          beforeWrite = action;
        },
        cleanup: async () => {
          await proxy.close();
          await root.delete(`${mount}/metadata/${path}`).catch(() => undefined);
          await removeRole().catch(() => undefined);
          await remove();
        },
      };
    },
  };
}

const VAULT_CONTRACT = {
  capabilities: {
    checkAndSet: true,
    versioned: true,
    fence: "store",
    rollbackFencesWrites: true,
  },
  interceptsWrites: true,
  timeout: 30_000,
} as const;
runProviderContract("vault-kv2 (no secret when empty)", contractHarness("absent"), VAULT_CONTRACT);
runProviderContract("vault-kv2 (other keys only when empty)", contractHarness("others-only"), VAULT_CONTRACT);
runProviderContract("vault-kv2 (AppRole login)", contractHarness("absent", "approle"), VAULT_CONTRACT);

// ---------------------------------------------------------------------------------------------- Vault specifics

/**
 * A forwarding proxy in front of the shared OpenBao that lets a test act at the moment a request arrives:
 * write as someone else before forwarding it, or forward it and then drop the answer (a lost response).
 */
async function vaultProxy(hook: (request: { method: string; path: string }) => Promise<"forward" | "drop-response">) {
  const proxy = await startHttpProxy(endpoints.vault.address, (request) => hook(request));
  onTestFinished(() => proxy.close());
  return { address: proxy.endpoint, requests: proxy.requests };
}

let sequence = 0;
function newKey(): ApiKeyCredential {
  sequence++;
  return {
    kind: "api-key",
    accountSid: `AC${"a".repeat(32)}`,
    apiKeySid: `SK${randomUUID().replaceAll("-", "")}`,
    apiKeySecret: `secret${String(sequence).padStart(26, "0")}`,
  };
}
const ctx = { runId: "run-vault" };
const rollbackCtx = (credential: StoredCredential) => ({ ...ctx, newKeyId: credentialId(credential) });

describe("vault-kv2 against OpenBao", () => {
  describe("versions and check-and-set", () => {
    it("reports current_version, writes check-and-set, and rolls back by writing the old data as a new version", async () => {
      const store = await vaultStore();
      const old = newKey();
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(old) } });
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(old), note: "second" } });
      const before = await currentData("secret", store.path);

      const { snapshot } = await store.provider.preflight();
      expect(snapshot).toEqual({ credential: old, version: "2" });
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      expect(restorePoint).toEqual({
        namespace: null,
        mount: "secret",
        path: store.path,
        previousVersion: 2,
        previousHadData: true,
        previousDataHash: expect.stringMatching(/^[0-9a-f]{16}$/),
      });

      const next = newKey();
      expect(await store.provider.write(next, restorePoint, ctx)).toBe("3");
      expect(await currentData("secret", store.path)).toEqual({ ...before, ...fields(next) });

      await store.provider.rollback(restorePoint, rollbackCtx(next));
      const meta = await metadata("secret", store.path);
      expect(meta.current_version).toBe(4);
      expect(await currentData("secret", store.path)).toEqual(before);
      // History is kept: this run's version is still there to inspect.
      expect((await rootRead(`secret/data/${store.path}?version=3`))?.data).toEqual({ ...before, ...fields(next) });
      expect(await store.provider.read()).toEqual({ credential: old, version: "4" });

      // Idempotent: a second rollback (a resume) writes nothing.
      await store.provider.rollback(restorePoint, rollbackCtx(next));
      expect((await metadata("secret", store.path)).current_version).toBe(4);
    });

    it("a check-and-set write of the run still on its way when another process rolled the run back is refused by Vault", async () => {
      // Host A read version 1 and froze with its write (cas 1) on its way; host B rolled the run back.
      const store = await vaultStore();
      const old = newKey();
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(old) } });
      const before = await currentData("secret", store.path);
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      const next = newKey();

      await store.open().rollback(restorePoint, rollbackCtx(next));
      expect((await metadata("secret", store.path)).current_version).toBe(2);
      expect(await currentData("secret", store.path)).toEqual(before);

      // A's request lands now: exactly what its write sends.
      await expect(
        root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(next) }, options: { cas: 1 } }),
      ).rejects.toThrow(/check-and-set/);
      expect((await metadata("secret", store.path)).current_version).toBe(2);
      expect(await currentData("secret", store.path)).toEqual(before);
      expect((await rejection(store.provider.write(next, restorePoint, ctx))).kind).toBe("needs-operator");
      expect(await store.provider.read()).toEqual({ credential: old, version: "2" });
    });

    it("a secret that did not exist: the rollback of a run whose write never landed leaves no data, and the write is refused", async () => {
      const store = await vaultStore();
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      const next = newKey();
      await store.provider.rollback(restorePoint, rollbackCtx(next));
      await store.provider.rollback(restorePoint, rollbackCtx(next));
      expect(await currentData("secret", store.path)).toBeUndefined();
      expect((await metadata("secret", store.path)).current_version).toBe(1);
      await expect(
        root.write(`secret/data/${store.path}`, { data: fields(next), options: { cas: 0 } }),
      ).rejects.toThrow(/check-and-set/);
      expect(await currentData("secret", store.path)).toBeUndefined();
    });

    it("rollback refuses to write back a previous version that reads back corrupted (hash of preflight's read), needs-operator", async () => {
      const store = await vaultStore();
      const old = newKey();
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(old) } });
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      const next = newKey();
      await store.provider.write(next, restorePoint, ctx);

      // From here a middlebox flips one byte of the old secret in reads of the previous version.
      const proxy = await startHttpProxy(endpoints.vault.address, (request) =>
        request.method === "GET" && request.path.includes("version=1")
          ? {
              rewrite: (body) =>
                Buffer.from(body.toString("utf8").replace(old.apiKeySecret, `X${old.apiKeySecret.slice(1)}`)),
            }
          : "forward",
      );
      onTestFinished(() => proxy.close());
      const throughProxy = new VaultKv2Provider(
        vaultKv2.configSchema.parse({ ...store.config, address: proxy.endpoint }),
        { credential: credentialTypeOf("api-key"), baseDir: "/", env: store.env },
        { retry: FAST_RETRY },
      );
      onTestFinished(() => throughProxy.close());
      const error = await rejection(throughProxy.rollback(restorePoint, rollbackCtx(next)));
      expect((error as StoreError).kind).toBe("needs-operator");
      expect(error.message).toMatch(/reads back different from what rotator read before the run/);
      expect(error.message).not.toContain(old.apiKeySecret.slice(1));
      // Nothing was written: the new credential stays current, version 2 untouched.
      expect((await metadata("secret", store.path)).current_version).toBe(2);
      expect(await currentData("secret", store.path)).toEqual({ ...OTHERS, ...fields(next) });
      // Without the middlebox the same rollback goes through.
      await store.provider.rollback(restorePoint, rollbackCtx(next));
      expect(await currentData("secret", store.path)).toEqual({ ...OTHERS, ...fields(old) });
    });

    it("a writer landing between preflight and write makes the write fail, and its version stays current", async () => {
      const store = await vaultStore();
      const old = newKey();
      await root.write(`secret/data/${store.path}`, { data: fields(old) });
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);

      const theirs = newKey();
      await root.write(`secret/data/${store.path}`, { data: fields(theirs) });
      const error = await rejection(store.provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain('store "vault"');
      expect(error.message).toContain(`someone else wrote Vault secret secret/${store.path} since preflight`);
      expect(error.message).toContain("nothing overwritten");
      expect(await currentData("secret", store.path)).toEqual(fields(theirs));
      expect((await metadata("secret", store.path)).current_version).toBe(2);

      // Rolling back that failed write leaves their value alone too.
      const rollbackError = await rejection(store.provider.rollback(restorePoint, rollbackCtx(newKey())));
      expect(rollbackError.kind).toBe("needs-operator");
      expect(rollbackError.message).toContain("bao kv rollback -mount=secret -version=1");
      expect(await currentData("secret", store.path)).toEqual(fields(theirs));
    });

    it("a latest version soft-deleted between prepare and write is not written over, losing the other keys", async () => {
      // A soft delete does not change current_version, so check-and-set cannot see it: the write must.
      const store = await vaultStore();
      const old = newKey();
      await root.write(`secret/data/${store.path}`, { data: { ...fields(old), ...OTHERS } });
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);

      await root.write(`secret/delete/${store.path}`, { versions: [1] });
      const error = await rejection(store.provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain("nothing overwritten");
      expect((await metadata("secret", store.path)).current_version).toBe(1);
      expect(await currentData("secret", store.path)).toBeUndefined();
    });

    it("the check-and-set refuses a writer that lands between write()'s read and its request", async () => {
      const store = await vaultStore();
      await root.write(`secret/data/${store.path}`, { data: fields(newKey()) });
      const theirs = newKey();
      const proxy = await vaultProxy(async ({ method, path }) => {
        if (method === "POST" && path === `/v1/secret/data/${store.path}`) {
          await root.write(`secret/data/${store.path}`, { data: fields(theirs) });
        }
        return "forward";
      });
      const provider = store.open("api-key", { address: proxy.address });
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);

      const error = await rejection(provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain("since preflight (version 1 then, 2 now); nothing overwritten");
      expect(proxy.requests.filter((r) => r.method === "POST" && r.path.includes("/data/"))).toHaveLength(1);
      expect(await currentData("secret", store.path)).toEqual(fields(theirs));
      expect((await metadata("secret", store.path)).current_version).toBe(2);
    });

    it("a write whose response is lost is retried, and the retry finds its own version instead of writing twice", async () => {
      const store = await vaultStore();
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(newKey()) } });
      // POST 1: the write (answer dropped); 2: its retry; 3: the rollback's write-back (dropped); 4: its retry.
      let posts = 0;
      let dropped = 0;
      const proxy = await vaultProxy(async ({ method, path }) => {
        if (method !== "POST" || path !== `/v1/secret/data/${store.path}`) return "forward";
        posts++;
        if (posts !== 1 && posts !== 3) return "forward";
        dropped++;
        return "drop-response";
      });
      const provider = store.open("api-key", { address: proxy.address });
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      const next = newKey();

      // The write lands, its answer is lost, the retry gets a check-and-set refusal and finds its own write.
      expect(await provider.write(next, restorePoint, ctx)).toBe("2");
      expect((await metadata("secret", store.path)).current_version).toBe(2);
      expect(await currentData("secret", store.path)).toEqual({ ...OTHERS, ...fields(next) });

      // Same for the write-back of a rollback.
      await provider.rollback(restorePoint, rollbackCtx(next));
      expect([posts, dropped]).toEqual([4, 2]);
      expect((await metadata("secret", store.path)).current_version).toBe(3);
      expect(await provider.read()).toEqual({ credential: snapshot.credential, version: "3" });
    });

    it("rollback of a secret this run created soft-deletes exactly that version", async () => {
      const store = await vaultStore();
      const { snapshot, notes } = await store.provider.preflight();
      expect(snapshot).toEqual({ credential: undefined, version: undefined });
      expect(notes.join("\n")).toContain("does not exist yet");
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      expect(restorePoint).toMatchObject({ previousVersion: 0, previousHadData: false });
      const next = newKey();
      expect(await store.provider.write(next, restorePoint, ctx)).toBe("1");

      await store.provider.rollback(restorePoint, rollbackCtx(next));
      const meta = await metadata("secret", store.path);
      expect(meta.current_version).toBe(1);
      expect(meta.versions["1"]?.deletion_time).not.toBe("");
      expect(meta.versions["1"]?.destroyed).toBe(false);
      expect(await store.provider.read()).toEqual({ credential: undefined, version: "1" });

      // A later run starts from there: check-and-set against version 1 creates version 2.
      const { snapshot: later } = await store.provider.preflight();
      const laterPoint = await store.provider.prepare(later, ctx);
      expect(laterPoint).toMatchObject({ previousVersion: 1, previousHadData: false });
      const again = newKey();
      expect(await store.provider.write(again, laterPoint, ctx)).toBe("2");
      expect(await currentData("secret", store.path)).toEqual(fields(again));
    });

    it("rollback of a run that wrote over a deleted latest version deletes its own version again", async () => {
      const store = await vaultStore();
      await root.write(`secret/data/${store.path}`, { data: { ...OTHERS, ...fields(newKey()) } });
      await root.write(`secret/delete/${store.path}`, { versions: [1] });
      const { snapshot, notes } = await store.provider.preflight();
      expect(snapshot).toEqual({ credential: undefined, version: "1" });
      expect(notes.join("\n")).toContain("deleted or destroyed");
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      const next = newKey();
      expect(await store.provider.write(next, restorePoint, ctx)).toBe("2");
      // Nothing to keep from a deleted version: only the credential.
      expect(await currentData("secret", store.path)).toEqual(fields(next));
      await store.provider.rollback(restorePoint, rollbackCtx(next));
      expect(await currentData("secret", store.path)).toBeUndefined();
      expect((await metadata("secret", store.path)).versions["2"]?.deletion_time).not.toBe("");
    });

    it("uses configured field names and keeps every other key, whatever its type", async () => {
      const store = await vaultStore({
        config: {
          fields: { accountSid: "TWILIO_ACCOUNT_SID", apiKeySid: "TWILIO_API_KEY", apiKeySecret: "TWILIO_API_SECRET" },
        },
      });
      const nested = { ...OTHERS, flags: { beta: true }, list: [1, 2] };
      await root.write(`secret/data/${store.path}`, { data: nested });
      const { snapshot } = await store.provider.preflight();
      const next = newKey();
      await store.provider.write(next, await store.provider.prepare(snapshot, ctx), ctx);
      expect(await currentData("secret", store.path)).toEqual({
        ...nested,
        TWILIO_ACCOUNT_SID: next.accountSid,
        TWILIO_API_KEY: next.apiKeySid,
        TWILIO_API_SECRET: next.apiKeySecret,
      });
    });

    it("refuses a secret that keeps only one version, as rollback would find the old one destroyed", async () => {
      const store = await vaultStore();
      await root.write(`secret/data/${store.path}`, { data: fields(newKey()) });
      await root.write(`secret/metadata/${store.path}`, { max_versions: 1 });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("max_versions");
    });
  });

  describe("permissions and mounts", () => {
    it("a policy without update fails preflight naming the capability, the path and the policy", async () => {
      const store = await vaultStore({ policy: ["read", "create"] });
      await root.write(`secret/data/${store.path}`, { data: fields(newKey()) });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`"update" on "secret/data/${store.path}"`);
      expect(error.message).toContain(store.policyName);
      expect(error.message).toContain(`path "secret/data/${store.path}" { capabilities = ["update"] }`);
    });

    it("a policy without create fails preflight for a secret that does not exist yet", async () => {
      const store = await vaultStore({ policy: ["read", "update"] });
      const error = await rejection(store.provider.preflight());
      expect(error.message).toContain(`"create" on "secret/data/${store.path}"`);
    });

    it("a policy without read fails preflight naming read", async () => {
      const store = await vaultStore({ policy: ["create", "update"] });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`"read" on "secret/data/${store.path}"`);
    });

    it("a write the policy does not allow fails with 403 naming the capability, and writes nothing", async () => {
      const store = await vaultStore();
      await root.write(`secret/data/${store.path}`, { data: fields(newKey()) });
      const { snapshot } = await store.provider.preflight();
      const restorePoint = await store.provider.prepare(snapshot, ctx);
      await store.setPolicy(`path "secret/data/${store.path}" { capabilities = ["read"] }`);
      const error = await rejection(store.provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("permission denied to write Vault secret");
      expect(error.message).toContain(`lack "update" on "secret/data/${store.path}"`);
      expect(error.message).toContain(store.policyName);
      expect((await metadata("secret", store.path)).current_version).toBe(1);
    });

    it("an invalid token fails preflight saying the token was refused, without showing it", async () => {
      const store = await vaultStore({ env: { [TOKEN_ENV]: "s.not-a-real-token-value" } });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("refused the token");
      expect(error.message).toContain(TOKEN_ENV);
      expect(error.message).not.toContain("not-a-real-token-value");
    });

    it("a mount that does not exist fails preflight clearly", async () => {
      const store = await vaultStore({ mount: unique("nomount") });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`no secrets engine at "${store.mount}/"`);
    });

    it("a KV version 1 mount fails preflight, saying why version 2 is needed", async () => {
      const mount = unique("kv1");
      await root.write(`sys/mounts/${mount}`, { type: "kv", options: { version: "1" } });
      onTestFinished(() => root.delete(`sys/mounts/${mount}`).catch(() => undefined));
      const store = await vaultStore({ mount });
      const error = await rejection(store.provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("KV version 1");
      expect(error.message).toContain(`bao kv enable-versioning ${mount}`);
    });

    it("a path that lies in a nested mount names the mount to use", async () => {
      const mount = unique("kvnest");
      await root.write(`sys/mounts/${mount}/team`, { type: "kv", options: { version: "2" } });
      onTestFinished(() => root.delete(`sys/mounts/${mount}/team`).catch(() => undefined));
      // A token that sees the nested mount (one whose policy was written for the wrong mount sees nothing there).
      const store = await vaultStore({ mount, path: "team/twilio", env: { [TOKEN_ENV]: endpoints.vault.token } });
      const error = await rejection(store.provider.preflight());
      expect(error.message).toContain(`set "mount" to "${mount}/team"`);
    });

    it("works in a namespace, and only there", async () => {
      const namespace = unique("ns");
      await root.write(`sys/namespaces/${namespace}`, {});
      onTestFinished(() => root.delete(`sys/namespaces/${namespace}`).catch(() => undefined));
      const inNamespace = vaultClient(endpoints, { namespace });
      await inNamespace.write("sys/mounts/secret", { type: "kv", options: { version: "2" } });
      const path = unique("rotator-test/twilio");
      const config = vaultKv2.configSchema.parse({
        name: "vault",
        type: "vault-kv2",
        address: endpoints.vault.address,
        namespace,
        path,
        auth: { method: "token", token: { env: TOKEN_ENV } },
      });
      const provider = new VaultKv2Provider(config, {
        credential: credentialTypeOf("api-key"),
        baseDir: "/",
        env: { [TOKEN_ENV]: endpoints.vault.token },
      });
      expect(provider.describe()).toBe(
        `Vault KV v2 secret secret/${path} (namespace ${namespace}) at ${endpoints.vault.address}`,
      );
      const { snapshot } = await provider.preflight();
      const next = newKey();
      await provider.write(next, await provider.prepare(snapshot, ctx), ctx);
      expect((await inNamespace.read(`secret/data/${path}`)).data.data).toEqual(fields(next));
      expect(await currentData("secret", path)).toBeUndefined();
    });
  });

  describe("AppRole", () => {
    /** An AppRole auth mount of its own, a role with `policy`, and its role_id and a secret_id. */
    async function appRole(policyText: string) {
      const mount = unique("approle");
      await root.write(`sys/auth/${mount}`, { type: "approle" });
      onTestFinished(() => root.delete(`sys/auth/${mount}`).catch(() => undefined));
      const policyName = unique("rotator-approle");
      await root.write(`sys/policies/acl/${policyName}`, { policy: policyText });
      onTestFinished(() => root.delete(`sys/policies/acl/${policyName}`).catch(() => undefined));
      await root.write(`auth/${mount}/role/rotator`, { token_policies: [policyName], token_ttl: "10m" });
      const roleId: string = (await root.read(`auth/${mount}/role/rotator/role-id`)).data.role_id;
      const secretId: string = (await root.write(`auth/${mount}/role/rotator/secret-id`, {})).data.secret_id;
      return { mount, policyName, roleId, secretId };
    }

    function appRoleProvider(path: string, role: { mount: string; roleId: string }, secretId: string) {
      const config = vaultKv2.configSchema.parse({
        name: "vault",
        type: "vault-kv2",
        address: endpoints.vault.address,
        path,
        auth: {
          method: "approle",
          mount: role.mount,
          roleId: role.roleId,
          secretId: { env: "ROTATOR_TEST_SECRET_ID" },
        },
      });
      return new VaultKv2Provider(
        config,
        { credential: credentialTypeOf("api-key"), baseDir: "/", env: { ROTATOR_TEST_SECRET_ID: secretId } },
        { retry: FAST_RETRY },
      );
    }

    it("logs in and runs a write and a rollback with the role's policy", async () => {
      const path = unique("rotator-test/twilio");
      onTestFinished(() => root.delete(`secret/metadata/${path}`).catch(() => undefined));
      const role = await appRole(policyFor("secret", path, FULL));
      const old = newKey();
      await root.write(`secret/data/${path}`, { data: { ...OTHERS, ...fields(old) } });

      const provider = appRoleProvider(path, role, role.secretId);
      const { snapshot } = await provider.preflight();
      expect(snapshot.credential).toEqual(old);
      const restorePoint = await provider.prepare(snapshot, ctx);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      expect(await currentData("secret", path)).toEqual({ ...OTHERS, ...fields(next) });
      await provider.rollback(restorePoint, rollbackCtx(next));
      expect(await currentData("secret", path)).toEqual({ ...OTHERS, ...fields(old) });
      await provider.close();
    });

    it("a role whose policy lacks update fails preflight naming the capability and the role's policy", async () => {
      const path = unique("rotator-test/twilio");
      onTestFinished(() => root.delete(`secret/metadata/${path}`).catch(() => undefined));
      const role = await appRole(policyFor("secret", path, ["read"]));
      await root.write(`secret/data/${path}`, { data: fields(newKey()) });
      const error = await rejection(appRoleProvider(path, role, role.secretId).preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`"update" on "secret/data/${path}"`);
      expect(error.message).toContain(role.policyName);
    });

    it("a wrong secret_id fails with a login error that does not show it", async () => {
      const path = unique("rotator-test/twilio");
      const role = await appRole(policyFor("secret", path, FULL));
      const wrong = randomUUID();
      const error = await rejection(appRoleProvider(path, role, wrong).preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`log in to Vault with AppRole at auth/${role.mount}/login`);
      expect(error.message).toContain("invalid role or secret ID");
      expect(error.message).not.toContain(wrong);
      expect(String((error.cause as Error).message)).not.toContain(wrong);
    });

    it("close revokes the token it logged in for", async () => {
      const path = unique("rotator-test/twilio");
      onTestFinished(() => root.delete(`secret/metadata/${path}`).catch(() => undefined));
      const role = await appRole(policyFor("secret", path, FULL));
      const provider = appRoleProvider(path, role, role.secretId);
      await provider.preflight();
      const accessors = async () => (await root.list(`auth/token/accessors`)).data.keys as string[];
      const roleTokens = async () => {
        const found: string[] = [];
        for (const accessor of await accessors()) {
          const info = (await root.write("auth/token/lookup-accessor", { accessor })).data;
          if (info.path === `auth/${role.mount}/login`) found.push(accessor);
        }
        return found;
      };
      expect(await roleTokens()).toHaveLength(1);
      await provider.close();
      expect(await roleTokens()).toHaveLength(0);
    });
  });
});

describe("vault-kv2 during an outage (a dedicated OpenBao)", () => {
  let own: RunningServers<"vault">;
  beforeAll(async () => {
    own = await startServers(["vault"]);
  });
  afterAll(async () => {
    await own?.stop();
  });

  function provider(address: string, path: string): VaultKv2Provider {
    const config = vaultKv2.configSchema.parse({
      name: "vault-outage",
      type: "vault-kv2",
      address,
      path,
      auth: { method: "token", token: { env: TOKEN_ENV } },
    });
    return new VaultKv2Provider(
      config,
      { credential: credentialTypeOf("api-key"), baseDir: "/", env: { [TOKEN_ENV]: own.endpoints.vault.token } },
      { retry: FAST_RETRY },
    );
  }

  it("a stopped server fails the write as retryable, naming the store, and the write works once it is back", async () => {
    const ownRoot = vaultClient(own.endpoints as ServerEndpoints);
    const path = unique("rotator-outage/twilio");
    await ownRoot.write(`secret/data/${path}`, { data: fields(newKey()) });
    const store = provider(own.endpoints.vault.address, path);
    const { snapshot } = await store.preflight();
    const restorePoint = await store.prepare(snapshot, ctx);

    await own.stopOne("vault");
    let error: StoreError;
    try {
      error = await rejection(store.write(newKey(), restorePoint, ctx));
    } finally {
      await own.startOne("vault");
    }
    expect(error.kind).toBe("retryable");
    expect(error.store).toBe("vault-outage");
    expect(error.message).toContain('store "vault-outage"');
    expect(error.message).toContain(
      `Vault at ${own.endpoints.vault.address} is unreachable (ECONNREFUSED) after 3 attempts`,
    );
    expect(error.message).toContain(`secret/${path}`);

    // The restarted dev server is empty: the secret is gone, and a fresh run creates it.
    const { snapshot: after } = await store.preflight();
    expect(after).toEqual({ credential: undefined, version: undefined });
    const next = newKey();
    await store.write(next, await store.prepare(after, ctx), ctx);
    expect((await store.read()).credential).toEqual(next);
  });

  it("a sealed server fails as retryable, saying it is sealed", async () => {
    const ownRoot = vaultClient(own.endpoints as ServerEndpoints);
    const path = unique("rotator-outage/twilio");
    const store = provider(own.endpoints.vault.address, path);
    await ownRoot.write("sys/seal", {});
    let error: StoreError;
    try {
      error = await rejection(store.read());
    } finally {
      // A dev server cannot be unsealed from here without its key: a restart gives a fresh, unsealed one.
      await own.stopOne("vault");
      await own.startOne("vault");
    }
    expect(error.kind).toBe("retryable");
    expect(error.message).toContain("sealed");
    expect(error.message).toContain("after 3 attempts");
  });
});
