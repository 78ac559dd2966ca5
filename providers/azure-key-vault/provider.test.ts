/**
 * What the test server cannot show: the config schema's refusals, how every kind of SDK and identity error is
 * classified, that an error summary never carries the SDK's request or response, and the credential choice.
 */
import { inspect } from "node:util";
import { ClientSecretCredential, DefaultAzureCredential } from "@azure/identity";
import { beforeEach, describe, expect, it } from "vitest";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { rejection } from "../../test/provider-contract/suite.js";
import { storeEntrySchema } from "../registry.js";
import { createCredential, ownAuthority } from "./credential.js";
import { type AzureTarget, classifyAzureError, isDisabledVersion, safeCause } from "./errors.js";
import { azureKeyVault } from "./index.js";
import { azureKeyVaultConfigSchema } from "./schema.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const base = {
  name: "azure",
  type: "azure-key-vault",
  vaultUrl: "https://my-vault.vault.azure.net",
  secretName: "twilio-prod",
};
const clientSecretAuth = {
  method: "client-secret",
  tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  clientId: "00000000-1111-4222-8333-444444444444",
  clientSecret: { env: "AZURE_ROTATOR_SECRET" },
};

function issues(entry: Record<string, unknown>) {
  const result = azureKeyVaultConfigSchema.safeParse({ ...base, auth: { method: "default" }, ...entry });
  return (result.error?.issues ?? []).map((issue) => ({ path: issue.path.join("."), message: issue.message }));
}

describe("azure-key-vault config", () => {
  it("takes default auth and client-secret auth, and is one of the registry's store entries", () => {
    expect(issues({})).toEqual([]);
    expect(issues({ auth: clientSecretAuth })).toEqual([]);
    expect(issues({ auth: { ...clientSecretAuth, authorityHost: "https://login.microsoftonline.us" } })).toEqual([]);
    expect(issues({ disableChallengeResourceVerification: true, fields: { apiKeySid: "keySid" } })).toEqual([]);
    expect(storeEntrySchema.parse({ ...base, auth: { method: "default" } }).type).toBe("azure-key-vault");
  });

  it("refuses a vaultUrl that is not https, or has a path, query or user name", () => {
    expect(issues({ vaultUrl: "http://my-vault.vault.azure.net" })).toEqual([
      { path: "vaultUrl", message: "must be an https:// URL, e.g. https://my-vault.vault.azure.net" },
    ]);
    for (const vaultUrl of [
      "https://v.vault.azure.net/secrets",
      "https://v.vault.azure.net/?x=1",
      "https://u:p@v.vault.azure.net",
    ]) {
      expect(issues({ vaultUrl })[0]?.path, vaultUrl).toBe("vaultUrl");
    }
  });

  it("refuses a secretName outside ^[0-9a-zA-Z-]{1,127}$", () => {
    for (const secretName of ["", "a".repeat(128), "twilio_prod", "twilio/prod", "twilio.prod"]) {
      expect(issues({ secretName }), secretName).toEqual([
        { path: "secretName", message: "must be 1 to 127 letters, digits and '-' (Key Vault's rule for secret names)" },
      ]);
    }
    expect(issues({ secretName: "A-1".padEnd(127, "x") })).toEqual([]);
  });

  it("client-secret auth needs tenantId, clientId (a GUID) and the secret by variable; an authorityHost is https", () => {
    const { tenantId: _t, ...noTenant } = clientSecretAuth;
    expect(issues({ auth: noTenant })[0]?.path).toBe("auth.tenantId");
    const { clientId: _c, ...noClient } = clientSecretAuth;
    expect(issues({ auth: noClient })[0]?.path).toBe("auth.clientId");
    expect(issues({ auth: { ...clientSecretAuth, clientId: "my-app" } })[0]?.path).toBe("auth.clientId");
    expect(issues({ auth: { ...clientSecretAuth, clientSecret: "literal-secret" } })[0]?.path).toBe(
      "auth.clientSecret",
    );
    expect(issues({ auth: { ...clientSecretAuth, authorityHost: "http://login.example" } })[0]?.path).toBe(
      "auth.authorityHost",
    );
    expect(issues({ auth: { ...clientSecretAuth, extra: 1 } })[0]?.message).toMatch(/extra/);
  });

  it("refuses two credential fields under one name", () => {
    expect(issues({ fields: { apiKeySid: "apiKeySecret" } })[0]?.path).toBe("fields");
  });
});

describe("credential", () => {
  it("default auth is DefaultAzureCredential; client-secret auth a ClientSecretCredential, made only when needed", async () => {
    expect(createCredential({ method: "default" }, { store: "azure", env: {} })).toBeInstanceOf(DefaultAzureCredential);
    const config = azureKeyVaultConfigSchema.parse({ ...base, auth: clientSecretAuth });
    if (config.auth.method !== "client-secret") throw new Error("unexpected auth");
    expect(
      createCredential(config.auth, { store: "azure", env: { AZURE_ROTATOR_SECRET: "s3cret-value" } }),
    ).toBeInstanceOf(ClientSecretCredential);
    // An unset variable fails when the store is first used, not when the provider is made.
    const create = await azureKeyVault.load();
    expect(() => create(config, { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} })).not.toThrow();
  });

  it("an authority of its own (not Microsoft's) gets no instance discovery", () => {
    expect(ownAuthority(undefined)).toBe(false);
    expect(ownAuthority("https://login.microsoftonline.com")).toBe(false);
    expect(ownAuthority("https://login.chinacloudapi.cn/")).toBe(false);
    expect(ownAuthority("https://127.0.0.1:8443")).toBe(true);
    expect(ownAuthority("https://login.contoso.example")).toBe(true);
  });

  it("an unset client secret variable is a fatal StoreError naming it", async () => {
    const config = azureKeyVaultConfigSchema.parse({ ...base, auth: clientSecretAuth });
    const provider = (await azureKeyVault.load())(config, {
      credential: credentialTypeOf("api-key"),
      baseDir: "/",
      env: {},
    });
    const error = await rejection(provider.read());
    expect(error.kind).toBe("fatal");
    expect(error.message).toBe(
      'store "azure": environment variable AZURE_ROTATOR_SECRET is not set or empty; this store\'s config names it in ' +
        "auth.clientSecret.env. Set it in the environment rotator runs in.",
    );
  });
});

const target: AzureTarget = {
  vaultUrl: "https://my-vault.vault.azure.net",
  secretName: "twilio-prod",
  auth: {
    method: "client-secret",
    tenantId: clientSecretAuth.tenantId,
    clientId: clientSecretAuth.clientId,
    secretVariable: "AZURE_ROTATOR_SECRET",
  },
};

/** Shaped as @azure/core-rest-pipeline's RestError (a transitive dependency, so not imported here). */
class RestError extends Error {
  override readonly name = "RestError";
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  details: unknown;

  constructor(message: string, options: { code?: string; statusCode?: number } = {}) {
    super(message);
    this.code = options.code;
    this.statusCode = options.statusCode;
  }
}

function keyVaultError(
  status: number,
  code: string,
  message: string,
  innerCode?: string,
  headers: Record<string, string> = {},
) {
  const error = new RestError(message, { code, statusCode: status });
  error.details = { error: { code, message, ...(innerCode === undefined ? {} : { innerError: { code: innerCode } }) } };
  Object.defineProperty(error, "response", {
    value: { status, headers: { get: (name: string) => headers[name.toLowerCase()] }, bodyAsText: "{}" },
    configurable: true,
  });
  return error;
}

function identityError(name: string, message: string) {
  return Object.assign(new Error(message), { name });
}

describe("classifying Key Vault and identity errors", () => {
  const cases: Array<[string, unknown, "retryable" | "fatal", RegExp]> = [
    [
      "429 with Retry-After",
      keyVaultError(429, "Throttled", "Too many", undefined, { "retry-after": "7" }),
      "retryable",
      /asked to wait 7 s/,
    ],
    ["503", keyVaultError(503, "ServiceUnavailable", "down"), "retryable", /HTTP 503/],
    [
      "ECONNREFUSED",
      new RestError("connect ECONNREFUSED", { code: "ECONNREFUSED" }),
      "retryable",
      /no answer from the vault/,
    ],
    ["REQUEST_SEND_ERROR", new RestError("socket hang up", { code: "REQUEST_SEND_ERROR" }), "retryable", /no answer/],
    ["ENOTFOUND", new RestError("getaddrinfo ENOTFOUND", { code: "ENOTFOUND" }), "fatal", /check "vaultUrl"/],
    [
      "a TLS failure",
      new RestError("unable to verify", { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }),
      "fatal",
      /NODE_EXTRA_CA_CERTS/,
    ],
    [
      "the challenge's resource mismatch",
      new Error(
        "The challenge resource 'vault.azure.net' does not match the requested domain. Set disableChallengeResourceVerification to true",
      ),
      "fatal",
      /disableChallengeResourceVerification: true/,
    ],
    [
      "401",
      keyVaultError(401, "Unauthorized", "AKV10022: Invalid audience."),
      "fatal",
      /did not accept rotator's token.*AKV10022/,
    ],
    [
      "a disabled version",
      keyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"),
      "fatal",
      /is disabled/,
    ],
    [
      "an RBAC denial",
      keyVaultError(403, "Forbidden", "Caller is not authorized\r\nAction: 'x/setSecret/action'", "ForbiddenByRbac"),
      "fatal",
      /Key Vault Secrets Officer.*Caller is not authorized; Action/,
    ],
    [
      "a firewall",
      keyVaultError(403, "Forbidden", "Client address is not authorized", "ForbiddenByFirewall"),
      "fatal",
      /firewall/,
    ],
    ["a policy", keyVaultError(403, "Forbidden", "denied by policy", "ForbiddenByPolicy"), "fatal", /Azure Policy/],
    ["404", keyVaultError(404, "SecretNotFound", "A secret with (name/id) x was not found"), "fatal", /does not exist/],
    [
      "a soft-deleted name",
      keyVaultError(409, "Conflict", "deleted but recoverable", "ObjectIsDeletedButRecoverable"),
      "fatal",
      /soft-deleted/,
    ],
    [
      "a wrong client secret",
      identityError(
        "AuthenticationRequiredError",
        "invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided.",
      ),
      "fatal",
      /refused the application's client secret .*AZURE_ROTATOR_SECRET/,
    ],
    [
      "an unknown application",
      identityError("AuthenticationRequiredError", "unauthorized_client: AADSTS700016: not found"),
      "fatal",
      /no application with this client id/,
    ],
    [
      "an unknown tenant",
      identityError("CredentialUnavailableError", "endpoints_resolution_error: See https://aka.ms"),
      "fatal",
      /no such tenant/,
    ],
    [
      "an unreachable authority",
      identityError("AuthenticationRequiredError", "request failed: connect ECONNREFUSED 127.0.0.1:1"),
      "retryable",
      /did not answer/,
    ],
    [
      "no credential at all",
      identityError("CredentialUnavailableError", "EnvironmentCredential is unavailable."),
      "fatal",
      /DefaultAzureCredential found no usable credential/,
    ],
  ];
  it.each(cases.map(([label, error, kind, explanation]) => [label, kind, error, explanation] as const))(
    "%s is %s",
    (_label, kind, error, explanation) => {
      const failure = classifyAzureError(error, target);
      expect(failure.kind).toBe(kind);
      expect(failure.explanation).toMatch(explanation);
    },
  );

  it("knows a disabled version by its inner code, also from a summary", () => {
    const error = keyVaultError(
      403,
      "Forbidden",
      "Operation get is not allowed on a disabled secret.",
      "SecretDisabled",
    );
    expect(isDisabledVersion(error)).toBe(true);
    expect(isDisabledVersion(safeCause(error))).toBe(true);
    expect(isDisabledVersion(keyVaultError(403, "Forbidden", "Caller is not authorized", "ForbiddenByRbac"))).toBe(
      false,
    );
  });

  it("a summary keeps what the error said and never its request or response (token, value)", () => {
    const error = keyVaultError(403, "Forbidden", "Caller is not authorized", "ForbiddenByRbac", {
      "x-ms-request-id": "req-1",
    });
    Object.defineProperty(error, "request", {
      value: {
        headers: { authorization: "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.token-0001" },
        body: '{"value":"hunter2-secret"}',
      },
    });
    Object.defineProperty(error, "response", {
      value: {
        status: 403,
        headers: { get: (n: string) => (n === "x-ms-request-id" ? "req-1" : undefined) },
        bodyAsText: "hunter2-secret",
      },
    });
    const cause = safeCause(error);
    expect(cause).toMatchObject({
      name: "RestError",
      statusCode: 403,
      innerCode: "ForbiddenByRbac",
      requestId: "req-1",
    });
    const everything = inspect(cause, { depth: Number.POSITIVE_INFINITY, showHidden: true });
    expect(everything).not.toContain("token-0001");
    expect(everything).not.toContain("hunter2-secret");

    // A RestError without Key Vault's body (one the SDK could not parse) is not quoted.
    const unparsed = new RestError('Unexpected token in JSON: {"value":"hunter2-secret"', { statusCode: 200 });
    expect(safeCause(unparsed).message).toBe("HTTP 200");
  });
});
