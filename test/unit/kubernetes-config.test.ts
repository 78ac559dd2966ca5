/**
 * Kubernetes entries in a config: a `kubernetes-secret` store (names as the API server takes them, one way to
 * reach the server, keys a Secret may have, syncedFrom naming a store rotator writes) and a `kubernetes`
 * consumer (a workload or a selector, rollout only for a workload, a canary only with a reload). Each mistake is
 * exit 2 with its path and the fix, and a token pasted in place of a reference is never echoed.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

beforeEach(() => {
  expect.hasAssertions();
});

const TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MCJ9";
type Json = Record<string, unknown>;

const secret = (extra: Json = {}): Json => ({
  name: "k8s",
  type: "kubernetes-secret",
  namespace: "payments",
  secretName: "twilio",
  ...extra,
});
const consumer = (extra: Json = {}): Json => ({
  name: "web",
  type: "kubernetes",
  namespace: "payments",
  workload: "deployment/web",
  port: 8080,
  ...extra,
});

function config(stores: Json[], consumers: Json[] = []): Json {
  return {
    version: 1,
    twilio: { accountSid: `AC${"ab".repeat(16)}`, admin: { authToken: { env: "TWILIO_AUTH_TOKEN" } } },
    credential: { type: "api-key" },
    stores,
    consumers,
  };
}

function problems(value: Json): string {
  try {
    validateConfig(value, "/etc/rotator.yaml");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.exitCode).toBe(2);
    expect(error.message).not.toContain(TOKEN);
    return error.problems.join("\n");
  }
  throw new Error("expected a ConfigError");
}

describe("kubernetes-secret store entries", () => {
  it("take the shape of the issue's example, with the dotenv key names by default", () => {
    const loaded = validateConfig(
      config([
        secret({ kubeconfig: "~/.kube/config", context: "prod" }),
        secret({ name: "k8s-mirror", secretName: "twilio-eso", syncedFrom: "k8s" }),
      ]),
      "/etc/rotator.yaml",
    );
    expect(loaded.stores[1]).toMatchObject({ syncedFrom: "k8s", syncTimeoutSeconds: 300 });
  });

  it("refuse names the API server would refuse", () => {
    expect(problems(config([secret({ namespace: "Payments" })]))).toContain(
      "stores[0].namespace: must be a Kubernetes namespace name",
    );
    expect(problems(config([secret({ secretName: "twilio_secret" })]))).toContain(
      "stores[0].secretName: must be a Kubernetes Secret name",
    );
    expect(problems(config([secret({ fields: { apiKeySecret: "API SECRET" } })]))).toContain(
      "stores[0].fields.apiKeySecret: must be a key a Secret's data may have",
    );
  });

  it("take one way to reach the API server, each field with what it needs", () => {
    expect(problems(config([secret({ server: "https://10.0.0.1:6443" })]))).toContain(
      "stores[0].token: give server and token together",
    );
    expect(
      problems(config([secret({ server: "https://10.0.0.1:6443", token: { env: "T" }, kubeconfig: "k" })])),
    ).toContain("stores[0].kubeconfig: give either a kubeconfig (and context) or server and token, not both");
    expect(problems(config([secret({ caFile: "ca.pem" })]))).toContain(
      "stores[0].caFile: is only used with server and token",
    );
    expect(problems(config([secret({ server: "http://10.0.0.1:8080", token: { env: "T" } })]))).toContain(
      "stores[0].server: must be https:// (the token would cross the network in clear)",
    );
    expect(() =>
      validateConfig(config([secret({ server: "http://127.0.0.1:8001", token: { env: "T" } })]), "/etc/rotator.yaml"),
    ).not.toThrow();
  });

  it("refuse a token pasted where its reference belongs, without echoing it", () => {
    expect(problems(config([secret({ server: "https://10.0.0.1:6443", token: TOKEN })]))).toContain(
      "stores[0].token: must be a reference such as { env: KUBERNETES_TOKEN }, not the token itself",
    );
  });

  it("syncedFrom names another store of the config, one rotator writes", () => {
    expect(problems(config([secret({ syncedFrom: "aws" }), secret({ name: "b" })]))).toContain(
      'stores[0].syncedFrom: no store is named "aws"',
    );
    expect(problems(config([secret({ syncedFrom: "k8s" })]))).toContain(
      "stores[0].syncedFrom: must name another store",
    );
    expect(problems(config([secret({ syncedFrom: "b" }), secret({ name: "b", syncedFrom: "k8s" })]))).toContain(
      'store "b" is itself synced from another',
    );
  });
});

describe("kubernetes consumer entries", () => {
  it("take the shape of the issue's example", () => {
    const loaded = validateConfig(
      config([secret()], [consumer({ path: "/.well-known/twilio-credential", reload: "rollout", canary: 1 })]),
      "/etc/rotator.yaml",
    );
    expect(loaded.consumers[0]).toMatchObject({ type: "kubernetes", canary: 1, timeoutSeconds: 5 });
  });

  it("name a workload as kind/name, or a selector, not both nor neither", () => {
    expect(problems(config([secret()], [consumer({ workload: "deploy/web" })]))).toContain(
      "consumers[0].workload: must be <kind>/<name> with kind deployment, statefulset or daemonset",
    );
    expect(problems(config([secret()], [consumer({ selector: "app=web" })]))).toContain(
      "consumers[0].workload: give either workload: <kind>/<name> or selector: <labels>, not both nor neither",
    );
  });

  it("restart only a workload, and have a canary only with a reload", () => {
    expect(
      problems(config([secret()], [consumer({ workload: undefined, selector: "app=web", reload: "rollout" })])),
    ).toContain("consumers[0].reload: rollout restarts a workload");
    expect(problems(config([secret()], [consumer({ canary: 1 })]))).toContain(
      "consumers[0].canary: a canary is the first pod(s) restarted or reloaded",
    );
    expect(() =>
      validateConfig(
        config(
          [secret()],
          [consumer({ workload: undefined, selector: "app=web", reload: { path: "/-/reload" }, canary: 2 })],
        ),
        "/etc/rotator.yaml",
      ),
    ).not.toThrow();
  });
});
