/**
 * The provider against the project's Key Vault emulator (src/keyvault-emulator), through the official SDK and
 * a real client-credentials flow against the server's authority, over HTTPS verified against the server's CA. The
 * server runs in this test process so a test can act at the moment a request reaches it (a write racing the
 * provider's, a store breaking at the write request) and give each store an application of its own.
 *
 * First the shared contract suite, then what is particular to Key Vault: tags and read-back by version id,
 * rollback by setting the old value again, the read-compare-then-set refusals, preflight's refusals (missing,
 * soft-deleted, disabled, certificate-backed, not JSON, too many tags) and notes (write permission unverified),
 * 429s with Retry-After, lost answers and server errors on the set, and authentication failures.
 */
import { randomBytes } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isApiKey } from "../../src/credentials/api-key/credential.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { type KeyVaultServer, startKeyVaultServer } from "../../src/keyvault-emulator/server.js";
import {
  type CredentialKind,
  credentialId,
  credentialToFields,
  JSON_FIELD_DEFAULTS,
} from "../../test/provider-contract/credentials.js";
import { rejection, runProviderContract, secretFreeRejection } from "../../test/provider-contract/suite.js";
import type { StoredCredential } from "../contract.js";

import { azureKeyVault } from "./index.js";
import { AzureKeyVaultProvider, type RetryPolicy, TAG_KEY, TAG_RESTORES, TAG_RUN } from "./provider.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

let kv: KeyVaultServer;
let admin: SecretClient;

beforeAll(async () => {
  kv = await startKeyVaultServer();
  admin = new SecretClient(
    kv.vaultUrl,
    new ClientSecretCredential(kv.tenantId, kv.client.clientId, kv.client.clientSecret, {
      authorityHost: kv.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: kv.caPem },
    }),
    { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
  );
});

afterAll(async () => {
  await kv?.close();
});

const SECRET_VARIABLE = "TEST_AZURE_CLIENT_SECRET";
/** Fields an operator keeps in the same secret, which every write must keep. */
const OTHERS = { region: "us1", webhookHost: "hooks.example.com", retries: 3, nested: { keep: true } };
const OPERATOR_TAGS = { owner: "platform", costCenter: "42" };
const FAST: RetryPolicy = {
  retries: 3,
  minTimeoutMs: 5,
  maxTimeoutMs: 20,
  maxRetryTimeMs: 10_000,
  maxRetryAfterMs: 3_000,
};

function secretValue(credential: StoredCredential | undefined): string {
  return JSON.stringify({
    ...OTHERS,
    ...(credential === undefined ? {} : credentialToFields(credential, JSON_FIELD_DEFAULTS)),
  });
}

/** What readers see: the latest value, its content type, its enabled flag and the operator's tags (not rotator's). */
async function rawState(name: string) {
  const latest = await admin.getSecret(name);
  const tags = Object.fromEntries(
    Object.entries(latest.properties.tags ?? {}).filter(([t]) => !t.startsWith("rotator-")),
  );
  return {
    value: JSON.parse(latest.value ?? "null"),
    contentType: latest.properties.contentType,
    enabled: latest.properties.enabled,
    tags,
  };
}

async function versionCount(name: string): Promise<number> {
  let count = 0;
  for await (const _ of admin.listPropertiesOfSecretVersions(name)) count++;
  return count;
}

function uniqueName(): string {
  return `twilio-${randomBytes(5).toString("hex")}`;
}

/** A secret of its own and an application of its own (so breaking one store's permissions breaks only it). */
async function makeStore(
  initial: StoredCredential | undefined,
  kind: CredentialKind,
  options: { seed?: boolean } = {},
) {
  const name = uniqueName();
  const app = kv.clients.add();
  if (options.seed !== false) {
    await admin.setSecret(name, secretValue(initial), { contentType: "application/json", tags: OPERATOR_TAGS });
  }
  const config = azureKeyVault.configSchema.parse({
    name: "azure",
    type: "azure-key-vault",
    vaultUrl: kv.vaultUrl,
    secretName: name,
    auth: {
      method: "client-secret",
      tenantId: kv.tenantId,
      clientId: app.clientId,
      clientSecret: { env: SECRET_VARIABLE },
      authorityHost: kv.authorityHost,
    },
    disableChallengeResourceVerification: true,
  });
  const env = { [SECRET_VARIABLE]: app.clientSecret };
  const open = (overrides: { env?: Record<string, string>; retry?: RetryPolicy } = {}) =>
    new AzureKeyVaultProvider(
      config,
      { credential: credentialTypeOf(kind), baseDir: "/", env: overrides.env ?? env },
      { ca: kv.caPem, retry: overrides.retry ?? FAST },
    );
  return { name, app, config, env, open, provider: open() };
}

runProviderContract(
  "azure-key-vault",
  {
    async create(initial, kind) {
      const { name, app, provider, open } = await makeStore(initial, kind);
      return {
        provider,
        reopen: () => open(),
        raw: () => rawState(name),
        async others() {
          const { value, tags } = await rawState(name);
          const fields = Object.values(JSON_FIELD_DEFAULTS);
          return { fields: Object.fromEntries(Object.entries(value).filter(([key]) => !fields.includes(key))), tags };
        },
        async externalWrite(credential) {
          await admin.setSecret(name, secretValue(credential), {
            contentType: "application/json",
            tags: OPERATOR_TAGS,
          });
        },
        async breakStore() {
          // The application loses the set permission, as when its role assignment is removed.
          kv.clients.setPermissions(app.clientId, ["get", "list"]);
          return async () => kv.clients.setPermissions(app.clientId, ["get", "list", "set", "delete"]);
        },
        beforeStoreWrite(action) {
          kv.beforeNext({ method: "PUT", path: `/secrets/${name}` }, action);
        },
        versionCount: () => versionCount(name),
        secrets: [app.clientSecret, kv.client.clientSecret],
        async cleanup() {
          kv.clients.remove(app.clientId);
        },
      };
    },
  },
  {
    capabilities: {
      checkAndSet: false,
      versioned: true,
      fence: "deadline",
      rollbackFencesWrites: false,
    },
    interceptsWrites: true,
    timeout: 30_000,
  },
);

function newKey(accountSid = `AC${"1".repeat(32)}`): StoredCredential {
  return {
    kind: "api-key",
    accountSid,
    apiKeySid: `SK${randomBytes(16).toString("hex")}`,
    apiKeySecret: randomBytes(16).toString("hex"),
  };
}

async function fixture(options: { seed?: boolean } = {}) {
  const old = newKey();
  const store = await makeStore(old, "api-key", options);
  const ctx = { runId: `run-${randomBytes(4).toString("hex")}` };
  const secrets = [isApiKey(old) ? old.apiKeySecret : "", store.app.clientSecret, kv.client.clientSecret];
  return { ...store, old, ctx, secrets };
}

describe("azure-key-vault against the Key Vault test server", () => {
  describe("versions, tags and rollback", () => {
    it("write sets one version tagged with the run and the key, JSON content type, operator tags kept; read back by its id", async () => {
      const { name, provider, ctx } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      expect(restorePoint).toEqual({
        vaultUrl: kv.vaultUrl,
        secretName: name,
        previousVersionId: snapshot.version,
        previousValueHash: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
      const next = newKey();
      const requestsBefore = kv.requests.length;
      const written = await provider.write(next, restorePoint, ctx);
      expect(written).toMatch(/^[0-9a-f]{32}$/);
      const calls = kv.requests.slice(requestsBefore).map((r) => `${r.method} ${r.path}`);
      expect(calls).toEqual([
        `GET /secrets/${name}/`,
        `PUT /secrets/${name}`,
        `GET /secrets/${name}/${written}`,
        `GET /secrets/${name}/`,
      ]);

      const latest = await admin.getSecret(name);
      expect(latest.properties.version).toBe(written);
      expect(latest.properties.contentType).toBe("application/json");
      expect(latest.properties.tags).toEqual({
        ...OPERATOR_TAGS,
        [TAG_RUN]: ctx.runId,
        [TAG_KEY]: isApiKey(next) ? next.apiKeySid : "",
      });
      expect(JSON.parse(latest.value ?? "")).toEqual({ ...OTHERS, ...credentialToFields(next, JSON_FIELD_DEFAULTS) });
    });

    it("rollback sets the previous version's value again, with its content type, tags, nbf and exp, tagged as a restore", async () => {
      const { name, provider, ctx } = await fixture({ seed: false });
      const notBefore = new Date(Math.floor(Date.now() / 1000 - 60) * 1000);
      const expiresOn = new Date(Math.floor(Date.now() / 1000 + 86_400) * 1000);
      const seeded = await admin.setSecret(name, secretValue(newKey()), {
        contentType: "text/plain",
        tags: { owner: "platform" },
        notBefore,
        expiresOn,
      });
      const { snapshot, notes } = await provider.preflight();
      expect(notes.join("\n")).toContain("content type text/plain");
      expect(notes.join("\n")).toContain(`expiring ${expiresOn.toISOString()}`);
      const restorePoint = await provider.prepare(snapshot, ctx);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      await provider.rollback(restorePoint, { ...ctx, newKeyId: credentialId(next) });

      const latest = await admin.getSecret(name);
      expect(latest.value).toBe(seeded.value);
      expect(latest.properties.version).not.toBe(seeded.properties.version);
      expect(latest.properties.contentType).toBe("text/plain");
      expect([latest.properties.notBefore, latest.properties.expiresOn]).toEqual([notBefore, expiresOn]);
      expect(latest.properties.tags).toEqual({
        owner: "platform",
        [TAG_RUN]: ctx.runId,
        [TAG_RESTORES]: seeded.properties.version,
      });
      expect(await versionCount(name)).toBe(3);
      // Again (a resumed rollback): nothing more.
      await provider.rollback(restorePoint, { ...ctx, newKeyId: credentialId(next) });
      expect(await versionCount(name)).toBe(3);
    });

    it("rollback refuses to set again a previous version that reads back corrupted (hash of prepare's read), needs-operator", async () => {
      const { name, provider, ctx, old, secrets } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      const next = newKey();
      const written = await provider.write(next, restorePoint, ctx);
      const previousId = snapshot.version!;
      const oldSecret = isApiKey(old) ? old.apiKeySecret : "";

      // From here a middlebox changes one character of the old secret in reads of the previous version.
      const text = (await admin.getSecret(name, { version: previousId })).value ?? "";
      const fault = kv.faults.add({
        kind: "corrupt-value",
        method: "GET",
        path: `/secrets/${name}/${previousId}`,
        offset: text.indexOf(oldSecret) + 5,
      });
      const error = await secretFreeRejection(
        provider.rollback(restorePoint, { ...ctx, newKeyId: credentialId(next) }),
        [...secrets, oldSecret.slice(1), isApiKey(next) ? next.apiKeySecret : ""],
        "needs-operator",
      );
      expect(kv.faults.get(fault.id)?.fired).toBeGreaterThan(0);
      expect(error.message).toContain(
        `version ${previousId} reads back different from what rotator read before the run`,
      );
      expect(error.message).toContain("nothing was written");
      // Nothing was set: the new credential stays latest, no third version.
      expect(await versionCount(name)).toBe(2);
      expect((await admin.getSecret(name)).properties.version).toBe(written);
      expect((await provider.read()).credential).toEqual(next);

      // Without the middlebox the same rollback goes through, setting the real old value again.
      kv.faults.remove(fault.id);
      await provider.rollback(restorePoint, { ...ctx, newKeyId: credentialId(next) });
      expect((await admin.getSecret(name)).value).toBe(text);
      expect((await provider.read()).credential).toEqual(old);
    });

    it("a restore point of rotator 0.1 (no value hash) still rolls back", async () => {
      const { name, provider, ctx, old } = await fixture();
      const { snapshot } = await provider.preflight();
      const { previousValueHash: _dropped, ...legacy } = await provider.prepare(snapshot, ctx);
      expect(Object.keys(legacy).sort()).toEqual(["previousVersionId", "secretName", "vaultUrl"]);
      const next = newKey();
      await provider.write(next, legacy, ctx);
      await provider.rollback(legacy, { ...ctx, newKeyId: credentialId(next) });
      expect((await provider.read()).credential).toEqual(old);
      expect(await versionCount(name)).toBe(3);
    });

    it("a version someone else set between prepare and write is not written over (read, compare, then set)", async () => {
      const { name, provider, ctx } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      await admin.setSecret(name, secretValue(newKey()), { contentType: "application/json" });
      const before = await rawState(name);
      const error = await rejection(provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain("someone else set a version");
      expect(await rawState(name)).toEqual(before);
      expect((await rejection(provider.prepare(snapshot, ctx))).kind).toBe("needs-operator");
    });

    it("release leaves every version in place", async () => {
      const { name, provider, ctx } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      const count = await versionCount(name);
      await provider.release(restorePoint, { ...ctx, newKeyId: credentialId(next) });
      expect(await versionCount(name)).toBe(count);
      expect((await provider.read()).credential).toEqual(next);
    });
  });

  describe("preflight refusals and notes", () => {
    it("notes that write permission is unverified, and changes nothing (only reads)", async () => {
      const { name, provider } = await fixture();
      const before = kv.requests.length;
      const { notes } = await provider.preflight();
      expect(notes[0]).toContain("write permission is unverified");
      expect(notes[0]).toContain("Key Vault Secrets Officer");
      expect(kv.requests.slice(before).every((r) => r.method === "GET")).toBe(true);
      expect(await versionCount(name)).toBe(1);
    });

    it("refuses a secret that does not exist, saying how to create it", async () => {
      const { provider, name } = await fixture({ seed: false });
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`secret ${name} in vault ${kv.vaultUrl} does not exist. Create it first`);
      expect(error.message).toContain("--value '{}' --content-type application/json");
    });

    it("refuses a soft-deleted secret, saying how to recover or purge it", async () => {
      const { provider, name } = await fixture();
      await (await admin.beginDeleteSecret(name, { intervalInMs: 10 })).pollUntilDone();
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("is soft-deleted");
      expect(error.message).toContain("az keyvault secret recover");
      expect(error.message).toContain("az keyvault secret purge");
    });

    it("refuses a disabled latest version, saying how to enable it", async () => {
      const { provider, name } = await fixture();
      const latest = await admin.getSecret(name);
      await admin.updateSecretProperties(name, latest.properties.version!, { enabled: false });
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("the latest version of");
      expect(error.message).toContain("is disabled");
      expect(error.message).toContain("set-attributes --enabled true");
    });

    it("refuses a secret backing a certificate (managed)", async () => {
      const { provider, name } = await fixture({ seed: false });
      kv.state.seedCertificateSecret(name, kv.vaultUrl);
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("backs a Key Vault certificate (managed)");
    });

    it("refuses a value that is not a JSON object, without quoting it", async () => {
      const { provider, name } = await fixture({ seed: false });
      await admin.setSecret(name, "plain-text-secret-value-0001");
      const error = await secretFreeRejection(provider.preflight(), ["plain-text-secret-value-0001"], "fatal");
      expect(error.message).toContain("is not a JSON object");
    });

    it("refuses in prepare a version whose tags leave no room for rotator's two", async () => {
      const { provider, name, ctx } = await fixture({ seed: false });
      const tags = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`t${i}`, "v"]));
      await admin.setSecret(name, secretValue(newKey()), { tags });
      const { snapshot } = await provider.preflight();
      const error = await rejection(provider.prepare(snapshot, ctx));
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("has 14 tags of its own");
    });
  });

  describe("passing faults", () => {
    it("honours a 429's Retry-After, and gives up at once on one asking to wait too long", async () => {
      const { provider, name } = await fixture();
      kv.faults.add({ kind: "rate-limit", retryAfterSeconds: 1, method: "GET", path: `/secrets/${name}/`, times: 1 });
      const started = Date.now();
      await provider.read();
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);

      kv.faults.add({ kind: "rate-limit", retryAfterSeconds: 60, method: "GET", path: `/secrets/${name}/`, times: 1 });
      const impatient = Date.now();
      const error = await rejection(provider.read());
      expect(Date.now() - impatient).toBeLessThan(5_000);
      expect(error.kind).toBe("retryable");
      expect(error.message).toContain("it asked to wait 60 s");
    });

    it("a set whose answer was lost is found by reading, not set twice", async () => {
      const { name, provider, ctx } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      const before = await versionCount(name);
      const fault = kv.faults.add({ kind: "drop-response", method: "PUT", path: `/secrets/${name}`, times: 1 });
      const next = newKey();
      const written = await provider.write(next, restorePoint, ctx);
      expect(kv.faults.get(fault.id)?.fired).toBe(1);
      expect(await versionCount(name)).toBe(before + 1);
      expect((await admin.getSecret(name)).properties.version).toBe(written);
    });

    it("a 503 on the set is retried after checking the latest version; a persistent one fails retryable, unchanged", async () => {
      const { name, provider, ctx } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      kv.faults.add({ kind: "server-error", status: 503, method: "PUT", path: `/secrets/${name}`, times: 2 });
      await provider.write(newKey(), restorePoint, ctx);
      expect(await versionCount(name)).toBe(2);

      const second = await fixture();
      const { snapshot: s2 } = await second.provider.preflight();
      const rp2 = await second.provider.prepare(s2, second.ctx);
      const before = await rawState(second.name);
      kv.faults.add({ kind: "server-error", status: 503, method: "PUT", path: `/secrets/${second.name}` });
      const error = await rejection(second.provider.write(newKey(), rp2, second.ctx));
      expect(error.kind).toBe("retryable");
      expect(error.message).toContain("HTTP 503");
      expect(await rawState(second.name)).toEqual(before);
      kv.faults.clear();
    });
  });

  describe("authentication and permissions", () => {
    it("a wrong client secret fails preflight with the authority's invalid_client, naming the variable", async () => {
      const { open, secrets } = await fixture();
      const provider = open({ env: { [SECRET_VARIABLE]: "wrong-client-secret-0001" } });
      const error = await secretFreeRejection(provider.preflight(), [...secrets, "wrong-client-secret-0001"], "fatal");
      expect(error.message).toContain("refused the application's client secret");
      expect(error.message).toContain(SECRET_VARIABLE);
    });

    it("an unset client secret variable fails preflight naming it and where the config names it", async () => {
      const { open } = await fixture();
      const error = await rejection(open({ env: {} }).preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`environment variable ${SECRET_VARIABLE} is not set or empty`);
      expect(error.message).toContain("auth.clientSecret.env");
    });

    it("a denied set is fatal, says which role is needed, and holds neither the value nor a token", async () => {
      const { app, provider, ctx, secrets } = await fixture();
      const { snapshot } = await provider.preflight();
      const restorePoint = await provider.prepare(snapshot, ctx);
      kv.clients.setPermissions(app.clientId, ["get"]);
      const next = newKey();
      const error = await secretFreeRejection(
        provider.write(next, restorePoint, ctx),
        [...secrets, isApiKey(next) ? next.apiKeySecret : ""],
        "fatal",
      );
      expect(error.message).toContain("permission denied");
      expect(error.message).toContain("Key Vault Secrets Officer");
      expect(error.message).toContain("secrets/setSecret/action");
    });
  });

  it("identity: host and secret name lowercased, the port made explicit; describe() as configured", async () => {
    const entry = azureKeyVault.configSchema.parse({
      name: "azure",
      type: "azure-key-vault",
      vaultUrl: "https://My-Vault.Vault.Azure.NET/",
      secretName: "Twilio-Prod",
      auth: { method: "default" },
    });
    const provider = (await azureKeyVault.load())(entry, {
      credential: credentialTypeOf("api-key"),
      baseDir: "/",
      env: {},
    });
    expect(await provider.identity()).toEqual({
      key: "azure-key-vault:https://my-vault.vault.azure.net:443/secrets/twilio-prod",
      display: "Azure Key Vault secret Twilio-Prod at https://my-vault.vault.azure.net",
    });
  });
});
