/**
 * Store identity (providers/identity.ts): two spellings of one store must give one key, because locks, the
 * unfinished-run check, the shared-credential check and the listed-twice check all compare keys.
 */
import { describe, expect, it } from "vitest";
import { awsSecretsManager } from "../../providers/aws-secrets-manager/index.js";
import { AwsSecretsManagerProvider } from "../../providers/aws-secrets-manager/provider.js";
import { canonicalOrigin } from "../../providers/identity.js";
import { legacyStoreDescription, storeEntrySchema } from "../../providers/registry.js";
import { vaultKv2 } from "../../providers/vault-kv2/index.js";
import { VaultKv2Provider } from "../../providers/vault-kv2/provider.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { redact } from "../../src/util/mask.js";

const environment = { credential: credentialTypeOf("api-key" as const), baseDir: "/", env: { VAULT_TOKEN: "t" } };

function vault(address: string, place: { namespace?: string; mount?: string; path: string }) {
  return new VaultKv2Provider(
    vaultKv2.configSchema.parse({
      name: "v",
      type: "vault-kv2",
      address,
      mount: place.mount ?? "secret",
      path: place.path,
      ...(place.namespace === undefined ? {} : { namespace: place.namespace }),
      auth: { method: "token", token: { env: "VAULT_TOKEN" } },
    }),
    environment,
  );
}

describe("canonicalOrigin", () => {
  it("makes every loopback name one host and default ports explicit", async () => {
    expect(await canonicalOrigin("http://localhost:8200")).toBe("http://loopback:8200");
    expect(await canonicalOrigin("http://127.0.0.1:8200/")).toBe("http://loopback:8200");
    expect(await canonicalOrigin("http://[::1]:8200")).toBe("http://loopback:8200");
    expect(await canonicalOrigin("https://LOCALHOST")).toBe("https://loopback:443");
    expect(await canonicalOrigin("http://10.1.2.3")).toBe("http://10.1.2.3:80");
  });

  it("falls back to the lowercased name when the name does not resolve", async () => {
    expect(await canonicalOrigin("https://Vault.Does-Not-Exist.invalid:8200")).toBe(
      "https://vault.does-not-exist.invalid:8200",
    );
  });
});

describe("vault-kv2 identity", () => {
  it("is one store at localhost and at 127.0.0.1, and for a namespace written as a mount prefix", async () => {
    const a = await vault("http://localhost:8200", { path: "apps/twilio" }).identity();
    const b = await vault("http://127.0.0.1:8200/", { path: "apps/twilio" }).identity();
    expect(b.key).toBe(a.key);
    const ns = await vault("http://127.0.0.1:8200", { namespace: "team", mount: "secret", path: "twilio" }).identity();
    const prefixed = await vault("http://127.0.0.1:8200", { mount: "team/secret", path: "twilio" }).identity();
    expect(prefixed.key).toBe(ns.key);
    expect(ns.claimFile).toBeUndefined();
  });

  it("tells different secrets and different servers apart", async () => {
    const a = await vault("http://127.0.0.1:8200", { path: "apps/twilio" }).identity();
    expect((await vault("http://127.0.0.1:8201", { path: "apps/twilio" }).identity()).key).not.toBe(a.key);
    expect((await vault("http://127.0.0.1:8200", { path: "apps/other" }).identity()).key).not.toBe(a.key);
  });
});

describe("aws-secrets-manager identity without a reachable endpoint", () => {
  it("falls back to region and id, and keeps an ARN as it is", async () => {
    const create = (entry: Record<string, string>) =>
      new AwsSecretsManagerProvider(
        awsSecretsManager.configSchema.parse({ name: "a", type: "aws-secrets-manager", ...entry }),
        { ...environment, env: { AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" } },
      );
    // Port 9 on loopback: nothing listens, so DescribeSecret fails fast and the fallback is used.
    const named = await create({
      secretId: "prod/twilio",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9",
    }).identity();
    expect(named.key).toBe("aws-secrets-manager:http://loopback:9/eu-west-1/prod/twilio");
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/twilio-AbCdEf";
    const byArn = await create({ secretId: arn, endpoint: "http://localhost:9" }).identity();
    expect(byArn.key).toBe(`aws-secrets-manager:http://loopback:9/${arn}`);
  }, 60_000);
});

describe("a store as rotator 0.1 named it (runs it journaled still resume)", () => {
  const entry = (fields: Record<string, string>) =>
    storeEntrySchema.parse({ name: "a", type: "aws-secrets-manager", ...fields });

  it("names an AWS secret with its region made explicit, from the entry, the ARN or the default", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/twilio-AbCdEf";
    expect(legacyStoreDescription(entry({ secretId: "prod/twilio", region: "us-east-2" }))).toBe(
      "AWS Secrets Manager secret prod/twilio (us-east-2)",
    );
    expect(legacyStoreDescription(entry({ secretId: arn }))).toBe(`AWS Secrets Manager secret ${arn} (eu-west-1)`);
    expect(legacyStoreDescription(entry({ secretId: "prod/twilio", endpoint: "http://127.0.0.1:9/" }))).toBe(
      "AWS Secrets Manager secret prod/twilio (the default region, endpoint http://127.0.0.1:9)",
    );
  });

  it("leaves every other store type to its provider's describe()", () => {
    expect(legacyStoreDescription(storeEntrySchema.parse({ name: "b", type: "dotenv-file", path: "b.env" }))).toBe(
      undefined,
    );
  });
});

describe("redact", () => {
  it("cuts credential headers however they are quoted, keeping the header name", () => {
    const line = `request failed: {"X-Amz-Security-Token": "FwoGZXIvYXdzEBYaDH", "x-amz-date": "20261201T000000Z"}`;
    expect(redact(line)).toBe(
      `request failed: {"X-Amz-Security-Token": "[REDACTED]", "x-amz-date": "20261201T000000Z"}`,
    );
    expect(redact("Authorization: Basic QUMxMjM6c2VjcmV0")).toBe("Authorization: Basic [REDACTED]");
    expect(redact("x-vault-token=hvs.CAESIJ")).toBe("x-vault-token=[REDACTED]");
    expect(redact("authorization is required")).toBe("authorization is required");
  });
});
