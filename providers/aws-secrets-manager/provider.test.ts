import { credentialTypeOf } from "../../src/credentials/registry.js";
import { storedFields } from "../../test/provider-contract/credentials.js";
/**
 * Pure logic (config, version ids, labels, JSON, error classification) and the few provider paths moto cannot
 * show, driven by a scripted client. Everything else runs against moto in provider.integration.test.ts.
 */

import { inspect } from "node:util";
import {
  DecryptionFailure,
  InternalServiceError,
  InvalidRequestException,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
  SecretsManagerServiceException,
} from "@aws-sdk/client-secrets-manager";
import { beforeEach, describe, expect, it } from "vitest";
import { rejection } from "../../test/provider-contract/suite.js";
import type { StoredCredential } from "../contract.js";

import { parseSecretObject, withCredential } from "../json-secret.js";
import { classifyAwsError, safeCause } from "./errors.js";
import { AwsSecretsManagerProvider, clientConfig, SDK_MAX_ATTEMPTS } from "./provider.js";
import { awsSecretsManagerConfigSchema } from "./schema.js";
import { isRotatorVersion, labelsOf, versionIdFor } from "./staging.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const base = { name: "aws", type: "aws-secrets-manager", secretId: "prod/twilio" } as const;
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/twilio-AbCdEf";
const environment = { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} } as const;

describe("config", () => {
  it("takes the minimal entry and the optional region, endpoint and field names", () => {
    expect(awsSecretsManagerConfigSchema.parse(base)).toEqual(base);
    const full = { ...base, region: "us-gov-west-1", endpoint: "http://127.0.0.1:5000", fields: { apiKeySid: "sid" } };
    expect(awsSecretsManagerConfigSchema.parse(full)).toEqual(full);
  });

  it("rejects unknown keys, a bad region or endpoint, and duplicate field names, with the path", () => {
    const issue = (entry: object) => awsSecretsManagerConfigSchema.safeParse(entry).error?.issues[0];
    expect(issue({ ...base, credentials: {} })).toMatchObject({ code: "unrecognized_keys", keys: ["credentials"] });
    expect(issue({ ...base, region: "US East" })).toMatchObject({ path: ["region"] });
    expect(issue({ ...base, endpoint: "ftp://example.com" })).toMatchObject({ path: ["endpoint"] });
    expect(issue({ ...base, secretId: "" })).toMatchObject({ path: ["secretId"] });
    expect(issue({ ...base, fields: { apiKeySid: "apiKeySecret" } })).toMatchObject({ path: ["fields"] });
  });

  it("rejects a region that contradicts the secret's ARN", () => {
    expect(awsSecretsManagerConfigSchema.safeParse({ ...base, secretId: ARN, region: "eu-west-1" }).success).toBe(true);
    const issue = awsSecretsManagerConfigSchema.safeParse({ ...base, secretId: ARN, region: "us-east-1" }).error
      ?.issues[0];
    expect(issue).toMatchObject({ path: ["region"] });
    expect(issue?.message).toContain("eu-west-1");
  });
});

describe("clientConfig", () => {
  it("keeps the SDK's retries low and sets timeouts", () => {
    const settings = clientConfig(awsSecretsManagerConfigSchema.parse(base), environment);
    expect(settings.maxAttempts).toBe(SDK_MAX_ATTEMPTS);
    expect(settings.requestHandler).toMatchObject({
      connectionTimeout: expect.any(Number),
      requestTimeout: expect.any(Number),
    });
    expect(settings).not.toHaveProperty("credentials");
    expect(settings).not.toHaveProperty("region");
  });

  it("takes the region from config, else the secret's ARN, else AWS_REGION of the provider's environment", () => {
    const env = { AWS_REGION: "ap-south-1" };
    const regionOf = (entry: object) =>
      clientConfig(awsSecretsManagerConfigSchema.parse({ ...base, ...entry }), { ...environment, env }).region;
    expect(regionOf({ region: "us-west-2" })).toBe("us-west-2");
    expect(regionOf({ secretId: ARN })).toBe("eu-west-1");
    expect(regionOf({})).toBe("ap-south-1");
  });

  it("takes static credentials from the provider's environment, like the SDK's env provider, else none", () => {
    const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "example-secret", AWS_SESSION_TOKEN: "tok" };
    const settings = clientConfig(awsSecretsManagerConfigSchema.parse({ ...base, endpoint: "http://127.0.0.1:1" }), {
      ...environment,
      env,
    });
    expect(settings.credentials).toEqual({
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "example-secret",
      sessionToken: "tok",
    });
    expect(settings.endpoint).toBe("http://127.0.0.1:1");
    const partial = clientConfig(awsSecretsManagerConfigSchema.parse(base), {
      ...environment,
      env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE" },
    });
    expect(partial).not.toHaveProperty("credentials");
  });

  it("describes the secret without anything secret", () => {
    const provider = new AwsSecretsManagerProvider(
      awsSecretsManagerConfigSchema.parse({ ...base, secretId: ARN }),
      environment,
    );
    expect(provider.describe()).toBe(`AWS Secrets Manager secret ${ARN} (eu-west-1)`);
  });
});

describe("version ids and labels", () => {
  it("derives a 32-64 character version id from the run and the key, the same every time", () => {
    const id = versionIdFor("run-1", "SK0001");
    expect(id).toBe(versionIdFor("run-1", "SK0001"));
    expect(id.length).toBeGreaterThanOrEqual(32);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(isRotatorVersion(id)).toBe(true);
    expect(versionIdFor("run-2", "SK0001")).not.toBe(id);
    expect(versionIdFor("run-1", "SK0002")).not.toBe(id);
    // No ambiguity from joining the two parts.
    expect(versionIdFor("run-1S", "K0001")).not.toBe(id);
    expect(isRotatorVersion("a0b1c2d3-0000-4000-8000-000000000000")).toBe(false);
  });

  it("finds where each label sits, ignores versions without labels, and reports a label on two versions", () => {
    expect(labelsOf({ a: ["AWSPREVIOUS"], b: ["AWSCURRENT", "AWSPENDING"], c: [] })).toEqual({
      current: "b",
      previous: "a",
      pending: "b",
      duplicated: [],
    });
    expect(labelsOf(undefined)).toEqual({
      current: undefined,
      previous: undefined,
      pending: undefined,
      duplicated: [],
    });
    expect(labelsOf({ a: ["AWSCURRENT"], b: ["AWSCURRENT"] }).duplicated).toEqual(["AWSCURRENT"]);
  });
});

describe("secret JSON", () => {
  const key: StoredCredential = { kind: "api-key", accountSid: "AC1", apiKeySid: "SK1", apiKeySecret: "s1" };

  it("reads a JSON object; a blank value counts as an empty one; anything else is not one", () => {
    expect(parseSecretObject('{"a":1}')).toEqual({ a: 1 });
    expect(parseSecretObject("  ")).toEqual({});
    for (const text of ["not json", "[1]", '"text"', "42", "null"])
      expect(parseSecretObject(text), text).toBeUndefined();
  });

  it("sets the credential's fields and keeps every other field in its place", () => {
    const object = { before: 1, apiKeySid: "SKold", authToken: "kept", after: { nested: true } };
    expect(JSON.parse(withCredential(object, key, storedFields("api-key", "json")))).toEqual({
      before: 1,
      apiKeySid: "SK1",
      authToken: "kept",
      after: { nested: true },
      accountSid: "AC1",
      apiKeySecret: "s1",
    });
    expect(Object.keys(JSON.parse(withCredential(object, key, storedFields("api-key", "json"))))).toEqual([
      "before",
      "apiKeySid",
      "authToken",
      "after",
      "accountSid",
      "apiKeySecret",
    ]);
  });
});

describe("classifyAwsError", () => {
  const target = { secretId: "prod/twilio", region: "eu-west-1" };
  const service = (name: string, fault: "client" | "server", status: number, message = `${name}!`) =>
    new SecretsManagerServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message });
  const network = (code: string, name = "Error") => Object.assign(new Error(`connect ${code}`), { code, name });
  const metadata = { $metadata: { httpStatusCode: 400 } };

  const cases: [label: string, error: unknown, kind: string][] = [
    ["ThrottlingException", service("ThrottlingException", "client", 400), "retryable"],
    ["429", service("TooManyRequests", "client", 429), "retryable"],
    [
      "InternalServiceError",
      new InternalServiceError({ message: "x", $metadata: { httpStatusCode: 500 } }),
      "retryable",
    ],
    ["503", service("ServiceUnavailable", "server", 503), "retryable"],
    ["ECONNREFUSED", network("ECONNREFUSED"), "retryable"],
    ["ECONNRESET", network("ECONNRESET", "TimeoutError"), "retryable"],
    ["ETIMEDOUT", network("ETIMEDOUT", "TimeoutError"), "retryable"],
    ["ENOTFOUND", network("ENOTFOUND"), "fatal"],
    ["AccessDeniedException", service("AccessDeniedException", "client", 400), "fatal"],
    ["ResourceNotFoundException", new ResourceNotFoundException({ message: "no", ...metadata }), "fatal"],
    ["InvalidRequestException", new InvalidRequestException({ message: "no", ...metadata }), "fatal"],
    ["DecryptionFailure", new DecryptionFailure({ message: "no", ...metadata }), "fatal"],
    ["ExpiredTokenException", service("ExpiredTokenException", "client", 400), "fatal"],
    [
      "CredentialsProviderError",
      Object.assign(new Error("Could not load credentials"), { name: "CredentialsProviderError" }),
      "fatal",
    ],
    ["an unknown client error", service("SomethingNew", "client", 400), "fatal"],
  ];
  it.each(cases.map(([label, error, kind]) => [label, kind, error] as const))("%s is %s", (_label, kind, error) => {
    expect(classifyAwsError(error, target).kind).toBe(kind);
  });

  it("says what to do, with the secret and region", () => {
    const notFound = classifyAwsError(new ResourceNotFoundException({ message: "gone", ...metadata }), target);
    expect(notFound.explanation).toContain("secret prod/twilio does not exist in region eu-west-1. Create it first");
    expect(notFound.explanation).toContain("aws secretsmanager create-secret --region eu-west-1 --name prod/twilio");
    const denied = classifyAwsError(
      service("AccessDeniedException", "client", 400, "User: x is not authorized"),
      target,
    );
    expect(denied.explanation).toContain("secretsmanager:PutSecretValue");
    expect(denied.explanation).toContain("AWS said: User: x is not authorized");
  });

  it("never passes on a response body the SDK could not parse: it may be a secret value", () => {
    const error = Object.assign(new SyntaxError('Unexpected token, "{"SecretString":"hunter2" is not valid JSON'), {
      $metadata: { httpStatusCode: 200 },
    });
    const cause = safeCause(error);
    expect(cause.message).not.toContain("hunter2");
    expect(cause.message).toContain("HTTP 200");
    const plain = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(safeCause(plain)).toMatchObject({ message: plain.message, code: "ECONNREFUSED" });
  });

  it("passes on what an SDK error said, never the request and response it holds", () => {
    // What a real service exception holds: its response, whose body stream leads to the request with its headers.
    const request = {
      _header: "x-amz-security-token: session-token-value-0123456789\r\n",
      body: '{"SecretString":"s3cret-value"}',
    };
    const error = Object.assign(accessDenied(), {
      $metadata: { httpStatusCode: 400, requestId: "req-1" },
      $response: { statusCode: 400, headers: {}, body: { req: request } },
    });
    const cause = safeCause(error);
    expect(cause).toMatchObject({
      name: "AccessDeniedException",
      message: "User: arn:aws:iam::123456789012:user/ci is not authorized",
      fault: "client",
      httpStatusCode: 400,
      requestId: "req-1",
    });
    const everything = inspect(cause, { depth: Number.POSITIVE_INFINITY, showHidden: true });
    expect(everything).not.toContain("session-token-value");
    expect(everything).not.toContain("s3cret-value");
  });
});

describe("signature errors", () => {
  it("never passes on the canonical request AWS quotes in a signature error: it holds the session token", () => {
    // What AWS answers to a request signed with a wrong secret key: the canonical request it expected, with the
    // value of every signed header, x-amz-security-token included.
    const message =
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret " +
      "Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for " +
      "this request should have been\n'POST\n/\n\nhost:secretsmanager.eu-west-1.amazonaws.com\n" +
      "x-amz-date:20260101T000000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjSESSIONTOKEN0123456789\n" +
      "x-amz-target:secretsmanager.PutSecretValue\n\nhost;x-amz-date;x-amz-security-token;x-amz-target\n" +
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n\nThe String-to-Sign should have been\n" +
      "'AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/eu-west-1/secretsmanager/aws4_request\nabc'\n";
    const error = new SecretsManagerServiceException({
      name: "InvalidSignatureException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message,
    });
    const failure = classifyAwsError(error, { secretId: "prod/twilio", region: "eu-west-1" });
    expect(failure.kind).toBe("fatal");
    expect(failure.explanation).toContain("The request signature we calculated does not match");
    expect(failure.explanation).not.toContain("SESSIONTOKEN");
    const everything = inspect(safeCause(error), { depth: Number.POSITIVE_INFINITY, showHidden: true });
    expect(everything).toContain("InvalidSignatureException");
    expect(everything).not.toContain("SESSIONTOKEN");
    // Keeping the first line must not hide the SDK's hint that the body could not be parsed (it comes second).
    const unparsed = Object.assign(
      new Error('body "hunter2" is not valid\n  Deserialization error: to see the raw response, inspect $response'),
      { $metadata: { httpStatusCode: 200 } },
    );
    expect(safeCause(unparsed).message).not.toContain("hunter2");
  });
});

function accessDenied(message = "User: arn:aws:iam::123456789012:user/ci is not authorized") {
  return new SecretsManagerServiceException({
    name: "AccessDeniedException",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
    message,
  });
}

/** A client that answers each command with `answer(name, input)`, recording the calls. */
function scriptedProvider(answer: (name: string, input: Record<string, unknown>) => unknown) {
  const calls: string[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push(name);
      return answer(name, command.input);
    },
    destroy() {},
    config: { region: async () => "eu-west-1" },
  } as unknown as SecretsManagerClient;
  const provider = new AwsSecretsManagerProvider(
    awsSecretsManagerConfigSchema.parse({ ...base, region: "eu-west-1" }),
    { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} },
    { client, retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 1 } },
  );
  return { provider, calls };
}

describe("provider paths moto cannot show", () => {
  const next: StoredCredential = { kind: "api-key", accountSid: "AC1", apiKeySid: "SKnew", apiKeySecret: "new-secret" };
  const ctx = { runId: "run-1" };
  const ours = versionIdFor("run-1", "SKnew");
  const restorePoint = {
    secretArn: ARN,
    previousVersionId: "v1",
    previousLabelVersionId: null,
    pendingOnPrevious: false,
  };
  const oldValue = JSON.stringify({ accountSid: "AC1", apiKeySid: "SKold", apiKeySecret: "old-secret", other: 1 });
  const newValue = JSON.stringify({ accountSid: "AC1", apiKeySid: "SKnew", apiKeySecret: "new-secret", other: 1 });

  /** A secret on version v1; our version appears once staged (or `existing` says what it already holds). */
  function secret(options: { existing?: string; putError?: Error } = {}) {
    let stages: Record<string, string[]> = { v1: ["AWSCURRENT"] };
    let staged = options.existing;
    return scriptedProvider((name, input) => {
      switch (name) {
        case "DescribeSecret":
          return { ARN, VersionIdsToStages: structuredClone(stages) };
        case "GetSecretValue":
          if (input.VersionId === "v1") return { VersionId: "v1", SecretString: oldValue };
          if (input.VersionId === ours && staged !== undefined) return { VersionId: ours, SecretString: staged };
          throw new ResourceNotFoundException({ message: "no such version", $metadata: {} });
        case "PutSecretValue":
          if (options.putError) throw options.putError;
          staged = input.SecretString as string;
          stages = { ...stages, [ours]: ["AWSPENDING"] };
          return { VersionId: ours };
        case "UpdateSecretVersionStage": {
          const stage = input.VersionStage as string;
          stages = Object.fromEntries(Object.entries(stages).map(([id, s]) => [id, s.filter((x) => x !== stage)]));
          const to = input.MoveToVersionId as string | undefined;
          if (to !== undefined) stages[to] = [...(stages[to] ?? []), stage];
          return {};
        }
        default:
          throw new Error(`unexpected ${name}`);
      }
    });
  }

  it("ResourceExistsException on the staging put: the existing version is compared, and made current if it is ours", async () => {
    // On AWS an unlabelled version is not listed by DescribeSecret, so the put is how the provider finds it.
    const { provider, calls } = secret({
      existing: newValue,
      putError: new ResourceExistsException({ message: "token in use", $metadata: {} }),
    });
    expect(await provider.write(next, restorePoint, ctx)).toBe(ours);
    expect(calls).toEqual([
      "DescribeSecret",
      "GetSecretValue",
      "PutSecretValue",
      "GetSecretValue",
      "UpdateSecretVersionStage",
      "DescribeSecret",
    ]);
  });

  it("ResourceExistsException on the staging put with another value: needs an operator, nothing is switched", async () => {
    // What AWS does when a token is reused with another value; moto overwrites an AWSPENDING version instead (bug 3).
    const { provider, calls } = secret({
      existing: "{}",
      putError: new ResourceExistsException({ message: "token in use", $metadata: {} }),
    });
    const error = await rejection(provider.write(next, restorePoint, ctx));
    expect(error.kind).toBe("needs-operator");
    expect(error.message).toContain(ours);
    expect(calls).not.toContain("UpdateSecretVersionStage");
  });

  it("retries a throttled call and gives up at once on access denied", async () => {
    let describes = 0;
    const throttled = scriptedProvider((name) => {
      if (name !== "DescribeSecret") throw new Error(`unexpected ${name}`);
      describes++;
      if (describes <= 2)
        throw new SecretsManagerServiceException({
          name: "ThrottlingException",
          $fault: "client",
          $metadata: {},
          message: "slow down",
        });
      return { ARN, VersionIdsToStages: { v1: ["AWSCURRENT"] } };
    });
    await throttled.provider.prepare({ credential: undefined, version: "v1" }, ctx);
    expect(describes).toBe(3);

    const denied = scriptedProvider(() => {
      throw accessDenied();
    });
    const error = await rejection(denied.provider.preflight());
    expect(error.kind).toBe("fatal");
    expect(denied.calls).toEqual(["DescribeSecret"]);
  });

  it("gives up on a passing fault after the retry budget, as retryable", async () => {
    const { provider, calls } = scriptedProvider(() => {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:443"), { code: "ECONNREFUSED" });
    });
    const error = await rejection(provider.read());
    expect(error.kind).toBe("retryable");
    expect(error.message).toBe(
      'store "aws": cannot read the AWSCURRENT value (secret prod/twilio, eu-west-1): no answer from Secrets Manager ' +
        "in eu-west-1 (ECONNREFUSED); it may be unreachable for now.",
    );
    expect(calls).toHaveLength(4);
  });

  it("a switch whose answer was lost is not mistaken for a failure", async () => {
    const stages: Record<string, string[]> = { v1: ["AWSCURRENT"] };
    let updates = 0;
    const { provider } = scriptedProvider((name, input) => {
      switch (name) {
        case "DescribeSecret":
          return { ARN, VersionIdsToStages: structuredClone(stages) };
        case "GetSecretValue":
          return { VersionId: input.VersionId, SecretString: input.VersionId === "v1" ? oldValue : newValue };
        case "PutSecretValue":
          stages[ours] = ["AWSPENDING"];
          return {};
        case "UpdateSecretVersionStage":
          updates++;
          if (input.VersionStage === "AWSCURRENT") {
            // The switch happens, but the connection drops before the answer arrives.
            stages.v1 = ["AWSPREVIOUS"];
            stages[ours] = ["AWSPENDING", "AWSCURRENT"];
            throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
          }
          stages[ours] = ["AWSCURRENT"];
          return {};
        default:
          throw new Error(`unexpected ${name}`);
      }
    });
    expect(await provider.write(next, restorePoint, ctx)).toBe(ours);
    expect(updates).toBe(2);
    expect(stages).toEqual({ v1: ["AWSPREVIOUS"], [ours]: ["AWSCURRENT"] });
  });

  it("AWS-managed rotation is refused; once it is off, preflight goes on", async () => {
    let rotation = true;
    const { provider } = scriptedProvider((name) => {
      if (name === "DescribeSecret") {
        return {
          ARN,
          RotationEnabled: rotation,
          RotationLambdaARN: "arn:aws:lambda:eu-west-1:123456789012:function:rotate",
          RotationRules: { AutomaticallyAfterDays: 30 },
          VersionIdsToStages: { v1: ["AWSCURRENT"] },
        };
      }
      return { VersionId: "v1", SecretString: oldValue };
    });
    const error = await rejection(provider.preflight());
    expect(error.kind).toBe("needs-operator");
    expect(error.message).toContain("Lambda arn:aws:lambda:eu-west-1:123456789012:function:rotate, every 30 days");
    expect(error.message).toContain(
      "aws secretsmanager cancel-rotate-secret --secret-id prod/twilio --region eu-west-1",
    );
    rotation = false;
    expect((await provider.preflight()).snapshot.version).toBe("v1");
  });
});
