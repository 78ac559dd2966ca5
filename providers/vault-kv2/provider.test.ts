/**
 * Unit tests: the config schema, secrets resolved from the environment, the requests the auth methods make, error
 * classification, TLS, and that no token or secret value ends up in an error. Vault is faked by a small local HTTP
 * server where a real one cannot show it (Kubernetes login: there is no Kubernetes here). Everything against a
 * real OpenBao is in provider.integration.test.ts.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect, promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import type { CredentialKind } from "../../test/provider-contract/credentials.js";
import { rejection } from "../../test/provider-contract/suite.js";
import type { StoredCredential } from "../contract.js";
import type { StoreError } from "../errors.js";
import { storeEntrySchema } from "../registry.js";
import { createSession } from "./auth.js";
import { VaultHttp } from "./client.js";
import { failureKind, storeErrorFor, VaultRequestFailure } from "./errors.js";
import { VaultKv2Provider } from "./provider.js";
import { KUBERNETES_TOKEN_FILE, vaultKv2ConfigSchema } from "./schema.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const FAST_RETRY = { retries: 2, minTimeoutMs: 5, maxTimeoutMs: 10, maxRetryTimeMs: 1_000 };
const TOKEN = "s.unit-test-token-0123456789";
/** Nothing listens here: tests that must fail before any request use it. */
const UNREACHABLE = "http://127.0.0.1:9";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function config(overrides: Record<string, unknown> = {}) {
  return vaultKv2ConfigSchema.parse({
    name: "vault",
    type: "vault-kv2",
    address: UNREACHABLE,
    path: "apps/twilio",
    auth: { method: "token", token: { env: "VAULT_TOKEN_FOR_ROTATOR" } },
    ...overrides,
  });
}

function provider(
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = { VAULT_TOKEN_FOR_ROTATOR: TOKEN },
  kind: CredentialKind = "api-key",
  baseDir = "/",
) {
  return new VaultKv2Provider(
    config(overrides),
    { credential: credentialTypeOf(kind), baseDir, env },
    { retry: FAST_RETRY },
  );
}

const key: StoredCredential = {
  kind: "api-key",
  accountSid: `AC${"a".repeat(32)}`,
  apiKeySid: `SK${"b".repeat(32)}`,
  apiKeySecret: "the-api-key-secret-value-0123456",
};

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

type Reply = { status: number; body?: unknown } | "drop";

/** A fake Vault on 127.0.0.1 that records every request and answers with `handler`. */
async function fakeVault(
  handler: (request: Recorded) => Reply | Promise<Reply>,
  tls?: { key: Buffer; cert: Buffer },
): Promise<{ address: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const listener = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const request = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: text === "" ? undefined : JSON.parse(text),
    };
    requests.push(request);
    const reply = await handler(request);
    if (reply === "drop") {
      req.socket.destroy();
      return;
    }
    res.writeHead(reply.status, { "content-type": "application/json" });
    res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
  };
  const server: Server = tls === undefined ? createHttpServer(listener) : createHttpsServer(tls, listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { address: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`, requests };
}

/** Answers like Vault for a secret that does not exist, and for a token lookup. */
function emptyVault(request: Recorded): Reply {
  if (request.url.endsWith("/login")) {
    return { status: 200, body: { auth: { client_token: "s.logged-in-token", lease_duration: 3600 } } };
  }
  return { status: 404, body: { errors: [] } };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-vault-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("vault-kv2 config", () => {
  it("fills in the defaults", () => {
    expect(config()).toEqual({
      name: "vault",
      type: "vault-kv2",
      address: UNREACHABLE,
      mount: "secret",
      path: "apps/twilio",
      auth: { method: "token", token: { env: "VAULT_TOKEN_FOR_ROTATOR" } },
    });
    expect(config({ auth: { method: "approle", roleId: "role-id", secretId: { env: "SECRET_ID" } } }).auth).toEqual({
      method: "approle",
      roleId: "role-id",
      secretId: { env: "SECRET_ID" },
      mount: "approle",
    });
    expect(config({ auth: { method: "kubernetes", role: "rotator" } }).auth).toEqual({
      method: "kubernetes",
      role: "rotator",
      tokenFile: KUBERNETES_TOKEN_FILE,
      mount: "kubernetes",
    });
  });

  it("is picked by type from the registry's store entry schema", () => {
    const entry = storeEntrySchema.parse({
      name: "vault",
      type: "vault-kv2",
      address: "https://vault.example.com:8200",
      path: "apps/twilio",
      auth: { method: "approle", roleId: { env: "ROLE_ID" }, secretId: { env: "SECRET_ID" } },
      caFile: "ca.pem",
      fields: { apiKeySid: "TWILIO_API_KEY" },
    });
    expect(entry).toMatchObject({ type: "vault-kv2", mount: "secret" });
  });

  it.each([
    ["an unknown key", { region: "x" }, "region"],
    ["an unknown auth key", { auth: { method: "token", token: { env: "T" }, ttl: "1h" } }, "ttl"],
    ["a token written into the config", { auth: { method: "token", token: "s.abc" } }, "auth.token"],
    ["a secret_id written into the config", { auth: { method: "approle", roleId: "r", secretId: "x" } }, "secretId"],
    ["an unknown auth method", { auth: { method: "userpass" } }, "auth.method"],
    ["a non-http address", { address: "vault.example.com:8200" }, "address"],
    ["credentials in the address", { address: "https://user:pw@vault.example.com" }, "address"],
    ["a query in the address", { address: "https://vault.example.com/?x=1" }, "address"],
    ["caFile with plain http", { address: "http://vault:8200", caFile: "ca.pem" }, "caFile"],
    ["a leading slash in the path", { path: "/apps/twilio" }, "path"],
    ["a trailing slash in the mount", { mount: "secret/" }, "mount"],
    ["a .. segment", { path: "apps/../other" }, "path"],
    ["a query in the path", { path: "apps/twilio?version=1" }, "path"],
    ["an empty path", { path: "" }, "path"],
    ["two fields with one key", { fields: { apiKeySid: "sid", accountSid: "sid" } }, "fields"],
  ])("rejects %s", (_what, overrides, where) => {
    const result = vaultKv2ConfigSchema.safeParse({
      name: "vault",
      type: "vault-kv2",
      address: "https://vault:8200",
      path: "apps/twilio",
      auth: { method: "token", token: { env: "T" } },
      ...overrides,
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) =>
      [...issue.path, ...("keys" in issue ? issue.keys : [])].join("."),
    );
    expect(
      paths?.some((path) => path.includes(where)),
      JSON.stringify(result.error?.issues),
    ).toBe(true);
  });

  it("describes the secret without any secret", () => {
    expect(provider({ namespace: "team/a" }).describe()).toBe(
      `Vault KV v2 secret secret/apps/twilio (namespace team/a) at ${UNREACHABLE}`,
    );
    expect(
      new VaultKv2Provider(config({ address: "https://vault:8200/" }), {
        credential: credentialTypeOf("api-key"),
        baseDir: "/",
        env: {},
      }).describe(),
    ).toBe("Vault KV v2 secret secret/apps/twilio at https://vault:8200");
  });
});

describe("vault-kv2 secrets from the environment", () => {
  it("a missing token variable fails as fatal, naming it and where the config names it, before any request", async () => {
    const error = await rejection(provider({}, {}).preflight());
    expect(error.kind).toBe("fatal");
    expect(error.message).toBe(
      'store "vault": environment variable VAULT_TOKEN_FOR_ROTATOR is not set or empty; this store\'s config names ' +
        "it in auth.token.env. Set it in the environment rotator runs in.",
    );
  });

  it("an empty variable counts as missing", async () => {
    const error = await rejection(provider({}, { VAULT_TOKEN_FOR_ROTATOR: "" }).read());
    expect(error.message).toContain("VAULT_TOKEN_FOR_ROTATOR is not set or empty");
  });

  it("AppRole names the secret_id and role_id variables", async () => {
    const approle = { auth: { method: "approle", roleId: { env: "ROLE_ID" }, secretId: { env: "SECRET_ID" } } };
    expect((await rejection(provider(approle, { ROLE_ID: "r" }).read())).message).toContain(
      "SECRET_ID is not set or empty; this store's config names it in auth.secretId.env",
    );
    expect((await rejection(provider(approle, { SECRET_ID: "s" }).read())).message).toContain(
      "ROLE_ID is not set or empty; this store's config names it in auth.roleId.env",
    );
  });

  it("creating the provider reads nothing: a store that is never used never needs its variables", () => {
    expect(() => provider({}, {})).not.toThrow();
  });

  it("takes nothing from node-vault's process.env fallbacks (VAULT_TOKEN, VAULT_NAMESPACE)", async () => {
    const vault = await fakeVault(emptyVault);
    const saved = { token: process.env.VAULT_TOKEN, namespace: process.env.VAULT_NAMESPACE };
    process.env.VAULT_TOKEN = "s.ambient-token";
    process.env.VAULT_NAMESPACE = "ambient-namespace";
    try {
      await provider({ address: vault.address }).read();
      const logIn = provider(
        { address: vault.address, auth: { method: "approle", roleId: "role", secretId: { env: "SECRET_ID" } } },
        { SECRET_ID: "the-secret-id" },
      );
      await logIn.read();
    } finally {
      restoreEnv("VAULT_TOKEN", saved.token);
      restoreEnv("VAULT_NAMESPACE", saved.namespace);
    }
    const [read, login] = vault.requests;
    expect(read?.headers["x-vault-token"]).toBe(TOKEN);
    expect(read?.headers["x-vault-namespace"]).toBeUndefined();
    expect(login?.url).toBe("/v1/auth/approle/login");
    expect(login?.headers["x-vault-token"]).toBeUndefined();
    expect(login?.headers["x-vault-namespace"]).toBeUndefined();
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe("vault-kv2 Kubernetes login (no Kubernetes here: a fake Vault checks the request)", () => {
  it("posts the role and the service account token to auth/<mount>/login, then uses the token it got", async () => {
    const vault = await fakeVault(emptyVault);
    const dir = await tempDir();
    await writeFile(join(dir, "sa-token"), "eyJhbGciOiJSUzI1NiJ9.payload.signature\n");
    const k8s = provider(
      {
        address: vault.address,
        namespace: "team-a",
        auth: { method: "kubernetes", role: "rotator", tokenFile: "sa-token", mount: "k8s-prod" },
      },
      {},
      "api-key",
      dir,
    );
    expect(await k8s.read()).toEqual({ credential: undefined, version: undefined });
    expect(vault.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/auth/k8s-prod/login",
      "GET /v1/secret/data/apps/twilio",
    ]);
    const [login, read] = vault.requests;
    expect(login?.body).toEqual({ role: "rotator", jwt: "eyJhbGciOiJSUzI1NiJ9.payload.signature" });
    expect(login?.headers["x-vault-token"]).toBeUndefined();
    expect(login?.headers["x-vault-namespace"]).toBe("team-a");
    expect(read?.headers["x-vault-token"]).toBe("s.logged-in-token");
    expect(read?.headers["x-vault-namespace"]).toBe("team-a");
  });

  it("defaults to the pod's token file and the kubernetes mount", async () => {
    const vault = await fakeVault(emptyVault);
    const error = await rejection(
      provider({ address: vault.address, auth: { method: "kubernetes", role: "r" } }).read(),
    );
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain(
      `cannot read the Kubernetes service account token ${KUBERNETES_TOKEN_FILE} (ENOENT)`,
    );
    expect(vault.requests).toHaveLength(0);
  });

  it("a refused login says what to check", async () => {
    const vault = await fakeVault(() => ({ status: 403, body: { errors: ["permission denied"] } }));
    const dir = await tempDir();
    await writeFile(join(dir, "sa-token"), "jwt-value");
    const error = await rejection(
      provider(
        { address: vault.address, auth: { method: "kubernetes", role: "r", tokenFile: "sa-token" } },
        {},
        "api-key",
        dir,
      ).read(),
    );
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain("permission denied to log in to Vault with Kubernetes at auth/kubernetes/login");
    expect(error.message).toContain("binds this pod's service account");
    expect(inspect(error, { depth: 10 })).not.toContain("jwt-value");
  });

  it("logs in again shortly before the token's lease ends, reading the (rotated) token file again", async () => {
    let logins = 0;
    const vault = await fakeVault(() => {
      logins++;
      return { status: 200, body: { auth: { client_token: `s.token-${logins}`, lease_duration: 60 } } };
    });
    const dir = await tempDir();
    const tokenFile = join(dir, "sa-token");
    await writeFile(tokenFile, "jwt-1");
    let now = 1_000_000;
    const http = new VaultHttp({
      address: vault.address,
      namespace: undefined,
      ca: undefined,
      timeoutMs: 2_000,
      retry: FAST_RETRY,
    });
    const session = createSession({ method: "kubernetes", role: "r", tokenFile, mount: "kubernetes" }, http, {
      store: "vault",
      env: {},
      baseDir: dir,
      now: () => now,
    });
    expect(await Promise.all([session.token(), session.token()])).toEqual(["s.token-1", "s.token-1"]);
    now += 50_000; // lease 60 s, renewed 6 s before its end
    expect(await session.token()).toBe("s.token-1");
    await writeFile(tokenFile, "jwt-2");
    now += 5_000;
    expect(await session.token()).toBe("s.token-2");
    expect(vault.requests.map((r) => (r.body as { jwt: string }).jwt)).toEqual(["jwt-1", "jwt-2"]);
  });
});

describe("vault-kv2 errors", () => {
  it.each([
    [400, undefined, ["check-and-set parameter did not match the current version"], "cas-mismatch"],
    [400, undefined, ["invalid role or secret ID"], "fatal"],
    [403, undefined, ["permission denied"], "fatal"],
    [404, undefined, ["no handler for route"], "fatal"],
    [412, undefined, [], "retryable"],
    [429, undefined, [], "retryable"],
    [500, undefined, ["internal error"], "retryable"],
    [503, undefined, ["Vault is sealed"], "retryable"],
    [undefined, "ECONNREFUSED", [], "retryable"],
    [undefined, "ECONNRESET", [], "retryable"],
    [undefined, "ECONNABORTED", [], "retryable"],
    [undefined, "ETIMEDOUT", [], "retryable"],
    [undefined, "ENOTFOUND", [], "fatal"],
    [undefined, "DEPTH_ZERO_SELF_SIGNED_CERT", [], "fatal"],
  ] as const)("HTTP %s / %s %j is %s", (status, code, errors, kind) => {
    expect(failureKind(status, code, errors)).toBe(kind);
  });

  it("a 403 names the path, the capability and the token's policies", () => {
    const failure = new VaultRequestFailure("POST", "secret/data/apps/twilio", 403, undefined, ["permission denied"]);
    const error = storeErrorFor(failure, {
      store: "vault",
      address: "https://vault:8200",
      action: "write Vault secret secret/apps/twilio",
      needed: { capability: "update", path: "secret/data/apps/twilio" },
      policies: ["default", "rotator"],
    });
    expect(error.kind).toBe("fatal");
    expect(error.cause).toBe(failure);
    expect(error.message).toBe(
      'store "vault": permission denied to write Vault secret secret/apps/twilio (HTTP 403): the token\'s policies ' +
        '(default, rotator) lack "update" on "secret/data/apps/twilio", or the token is invalid or expired. Grant it ' +
        'in one of those policies: path "secret/data/apps/twilio" { capabilities = ["update", ...] }.',
    );
  });

  it("retries a passing fault a bounded number of times, then says how often it tried", async () => {
    const vault = await fakeVault(() => ({ status: 429, body: { errors: [] } }));
    const error = await rejection(provider({ address: vault.address }).read());
    expect(error.kind).toBe("retryable");
    expect(error.message).toContain("is rate limiting requests (HTTP 429) after 3 attempts");
    expect(vault.requests).toHaveLength(3);
  });

  it("does not retry what cannot pass (403), and says so at once", async () => {
    const vault = await fakeVault(() => ({
      status: 403,
      body: { errors: ["1 error occurred:\n\t* permission denied\n\n"] },
    }));
    const error = await rejection(provider({ address: vault.address }).read());
    expect(error.kind).toBe("fatal");
    expect(vault.requests).toHaveLength(1);
    expect(String((error.cause as Error).message)).toBe(
      "GET /v1/secret/data/apps/twilio: HTTP 403 (permission denied)",
    );
  });

  it("a failed write carries neither the token nor the secret, in the message or anywhere in the cause", async () => {
    for (const reply of [{ status: 503, body: { errors: ["Vault is sealed"] } }, "drop"] as const) {
      const vault = await fakeVault((request) =>
        request.method === "POST"
          ? reply
          : { status: 200, body: { data: { data: { other: "kept" }, metadata: { version: 4 } } } },
      );
      const store = provider({ address: vault.address });
      const restorePoint = {
        namespace: null,
        mount: "secret",
        path: "apps/twilio",
        previousVersion: 4,
        previousHadData: true,
      };
      const error = await rejection(store.write(key, restorePoint, { runId: "r" }));
      expect(error.kind).toBe("retryable");
      // The request did carry both: the fake server saw them.
      const posted = vault.requests.find((r) => r.method === "POST");
      expect(JSON.stringify(posted?.body)).toContain(key.apiKeySecret);
      expect(posted?.headers["x-vault-token"]).toBe(TOKEN);
      const everything = inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true });
      expect(everything).not.toContain(key.apiKeySecret);
      expect(everything).not.toContain(TOKEN);
      expect(error.cause).toBeInstanceOf(VaultRequestFailure);
    }
  });

  it("a restore point for another secret is refused before anything is written", async () => {
    const point = { namespace: null, mount: "secret", path: "apps/other", previousVersion: 3, previousHadData: true };
    const error = await rejection(provider().write(key, point, { runId: "r" }));
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain("the restore point is for Vault secret secret/apps/other");
    expect((await rejection(provider().rollback({ version: 3 }, { runId: "r", newKeyId: "SK" }))).message).toContain(
      "not one this provider wrote",
    );
  });

  it("prepare refuses a version it never reported", async () => {
    const error = await rejection(provider().prepare({ credential: undefined, version: "abc" }, { runId: "r" }));
    expect(error.message).toContain('"abc" is not a version this provider reported');
  });

  it("a write of the other credential kind is refused", async () => {
    const error = await rejection(
      provider({}, undefined, "auth-token").write(key, { previousVersion: 1 }, { runId: "r" }),
    );
    expect(error.message).toContain("asked to write a api-key credential, but this store holds a auth-token");
  });
});

describe("vault-kv2 TLS", () => {
  async function selfSigned(dir: string): Promise<{ key: Buffer; cert: Buffer; certFile: string }> {
    const keyFile = join(dir, "key.pem");
    const certFile = join(dir, "cert.pem");
    await promisify(execFile)("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]);
    return { key: await readFile(keyFile), cert: await readFile(certFile), certFile };
  }

  it("verifies the server against caFile, and never skips verification (not even with VAULT_SKIP_VERIFY)", async () => {
    const dir = await tempDir();
    const tls = await selfSigned(dir);
    const vault = await fakeVault(emptyVault, tls);

    const saved = process.env.VAULT_SKIP_VERIFY;
    process.env.VAULT_SKIP_VERIFY = "1";
    let untrusted: StoreError;
    try {
      untrusted = await rejection(provider({ address: vault.address }).read());
    } finally {
      restoreEnv("VAULT_SKIP_VERIFY", saved);
    }
    expect(untrusted.kind).toBe("fatal");
    expect(untrusted.message).toContain("the TLS connection to");
    expect(untrusted.message).toContain('set "caFile"');
    expect(vault.requests).toHaveLength(0);

    const trusted = provider({ address: vault.address, caFile: "cert.pem" }, undefined, "api-key", dir);
    expect(await trusted.read()).toEqual({ credential: undefined, version: undefined });
  });

  it("an unreadable caFile fails as fatal, naming it", async () => {
    const error = await rejection(provider({ address: "https://vault:8200", caFile: "/nonexistent/ca.pem" }).read());
    expect(error.kind).toBe("fatal");
    expect(error.message).toContain("cannot read caFile /nonexistent/ca.pem");
  });
});
