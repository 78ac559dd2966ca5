/**
 * The same failure is the same kind whatever store's SDK raised it: throttled and 5xx answers and a refused
 * connection are `retryable`, a denial and a missing secret are `fatal`. Each SDK makes its own error, the way
 * it does in production: the AWS SDK, node-vault and the Kubernetes client send real requests to a small local
 * HTTP server (or to a port nobody listens on) and reject with whatever they build from the answer; Key Vault's
 * SDK talks only TLS with a bearer token, so its RestError is built with the class and the fields its pipeline
 * sets (a refused connection is a real one, through @azure/core-rest-pipeline's own HTTP client). Each is then
 * read by its provider's classifier.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createDefaultHttpClient, createPipelineRequest, RestError } from "@azure/core-rest-pipeline";
import * as k8s from "@kubernetes/client-node";
import nodeVault from "node-vault";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { apiFailure } from "../../src/kubernetes-client/errors.js";
import { classifyAwsError } from "../aws-secrets-manager/errors.js";
import { classifyAzureError } from "../azure-key-vault/errors.js";
import { toRequestFailure } from "../vault-kv2/errors.js";

beforeEach(() => {
  expect.hasAssertions();
});

type Failure = "throttled" | "unavailable" | "denied" | "missing" | "refused";

/** What each failure is, for every store. */
const EXPECTED: Record<Failure, "retryable" | "fatal"> = {
  throttled: "retryable",
  unavailable: "retryable",
  refused: "retryable",
  denied: "fatal",
  missing: "fatal",
};

/** How each store's server says it: the HTTP status, and the store's own error body. */
const ANSWERS: Record<Exclude<Failure, "refused">, { status: number; aws: string; reason: string }> = {
  throttled: { status: 429, aws: "ThrottlingException", reason: "TooManyRequests" },
  unavailable: { status: 503, aws: "ServiceUnavailable", reason: "ServiceUnavailable" },
  denied: { status: 403, aws: "AccessDeniedException", reason: "Forbidden" },
  missing: { status: 404, aws: "ResourceNotFoundException", reason: "NotFound" },
};

let server: Server;
let answering: string;
/** A port nothing listens on: the server's own, once it is closed. */
let closed: string;
let answer: Exclude<Failure, "refused"> = "throttled";

beforeAll(async () => {
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
  closed = `http://127.0.0.1:${(free.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => free.close(() => resolve()));

  server = createServer((request, response) => {
    request.resume();
    const { status, aws, reason } = ANSWERS[answer];
    if (request.headers["x-amz-target"] !== undefined) {
      // AWS's JSON protocol: the error code in x-amzn-errortype and __type. (AWS says 400 for a missing secret.)
      response.writeHead(answer === "missing" ? 400 : status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-errortype": aws,
      });
      response.end(JSON.stringify({ __type: aws, message: `${aws} from the test server` }));
    } else if (request.url?.startsWith("/api/")) {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason, code: status }));
    } else {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [`${reason} from the test server`] }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  answering = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("the request succeeded");
}

/** Each store's SDK making one request to `endpoint`, and its provider's classifier reading the rejection. */
const STORES: Record<string, (endpoint: string, failure: Failure) => Promise<string>> = {
  "aws-secrets-manager": async (endpoint) => {
    const client = new SecretsManagerClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    try {
      const error = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: "prod/twilio" })));
      return classifyAwsError(error, { secretId: "prod/twilio", region: "us-east-1" }).kind;
    } finally {
      client.destroy();
    }
  },
  "vault-kv2": async (endpoint) => {
    const client = nodeVault({ apiVersion: "v1", endpoint, token: "test" });
    const error = await rejectionOf(client.request({ path: "/secret/data/apps/twilio", method: "GET" }));
    return toRequestFailure(error, "GET", "secret/data/apps/twilio").kind;
  },
  "kubernetes-secret": async (endpoint) => {
    const config = new k8s.KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: "test", server: endpoint, skipTLSVerify: true }],
      users: [{ name: "test", token: "test" }],
      contexts: [{ name: "test", cluster: "test", user: "test" }],
      currentContext: "test",
    });
    const core = config.makeApiClient(k8s.CoreV1Api);
    const error = await rejectionOf(core.readNamespacedSecret({ name: "twilio", namespace: "apps" }));
    return apiFailure(error).kind;
  },
  "azure-key-vault": async (endpoint, failure) => {
    const target = {
      vaultUrl: "https://kv.vault.azure.net",
      secretName: "twilio",
      auth: { method: "default" as const },
    };
    if (failure === "refused") {
      const client = createDefaultHttpClient();
      const request = createPipelineRequest({ url: `${endpoint}/secrets/twilio`, allowInsecureConnection: true });
      const error = await rejectionOf(client.sendRequest(request));
      return classifyAzureError(error, target).kind;
    }
    // What the SDK's deserializer raises for Key Vault's error body: its code, the status, the parsed details.
    const { status, reason } = ANSWERS[failure];
    const code = failure === "missing" ? "SecretNotFound" : reason;
    const error = new RestError(`${code} from the test server`, { code, statusCode: status });
    Object.assign(error, { details: { error: { code, message: `${code} from the test server` } } });
    return classifyAzureError(error, target).kind;
  },
};

describe.each(Object.keys(STORES))("%s", (store) => {
  it.each(Object.keys(ANSWERS) as Array<Exclude<Failure, "refused">>)("an answer saying %s", async (failure) => {
    answer = failure;
    expect(await STORES[store]!(answering, failure)).toBe(EXPECTED[failure]);
  });

  it("a refused connection", async () => {
    expect(await STORES[store]!(closed, "refused")).toBe(EXPECTED.refused);
  });
});
