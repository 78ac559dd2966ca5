/**
 * The vault's rules, through @azure/keyvault-secrets: soft delete, disabled versions, unknown secrets, the limits
 * on tags, names and values, certificate-backed secrets, and the api-version.
 */
import { describe, expect, it } from "vitest";
import { useKeyVaultServer } from "./helpers/harness.js";

const kv = useKeyVaultServer();

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as { statusCode?: number; code?: string; message: string; details?: unknown };
  }
  throw new Error("expected the call to fail");
}

const innerCode = () => JSON.parse(kv.exchanges.at(-1)?.bodyText ?? "{}").error?.innererror?.code;

describe("Key Vault test server: the vault's rules", () => {
  it("a soft-deleted secret answers 404 SecretNotFound on get and 409 Conflict on set, until it is recovered", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    await client.setSecret(name, "before");
    await (await client.beginDeleteSecret(name, { intervalInMs: 10 })).pollUntilDone();

    expect(await failure(client.getSecret(name))).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    const set = await failure(client.setSecret(name, "after"));
    expect(set).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(set.message).toContain("deleted but recoverable");
    expect(innerCode()).toBe("ObjectIsDeletedButRecoverable");
    expect(await failure(client.updateSecretProperties(name, "0".repeat(32), { enabled: true }))).toMatchObject({
      statusCode: 404,
    });

    await (await client.beginRecoverDeletedSecret(name, { intervalInMs: 10 })).pollUntilDone();
    expect((await client.setSecret(name, "after")).value).toBe("after");
  });

  it("a disabled version answers 403 Forbidden, latest or by id; enabling it again makes it readable", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const first = await client.setSecret(name, "one");
    const second = await client.setSecret(name, "two", { enabled: false });
    const latest = await failure(client.getSecret(name));
    expect(latest).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect(latest.message).toBe("Operation get is not allowed on a disabled secret.");
    expect(innerCode()).toBe("SecretDisabled");
    expect((await failure(client.getSecret(name, { version: second.properties.version! }))).statusCode).toBe(403);
    expect((await client.getSecret(name, { version: first.properties.version! })).value).toBe("one");
    // Listing shows the disabled version without its value.
    const enabled: boolean[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) enabled.push(properties.enabled!);
    expect(enabled.sort()).toEqual([false, true]);

    await client.updateSecretProperties(name, second.properties.version!, { enabled: true });
    expect((await client.getSecret(name)).value).toBe("two");
  });

  it("nbf and exp are kept and shown, and do not stop a get (as Key Vault documents for secrets)", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const notBefore = new Date(Math.floor(Date.now() / 1000 + 3600) * 1000);
    const expiresOn = new Date(Math.floor(Date.now() / 1000 - 60) * 1000);
    await client.setSecret(name, "window", { notBefore, expiresOn });
    const read = await client.getSecret(name);
    expect([read.value, read.properties.notBefore, read.properties.expiresOn]).toEqual([
      "window",
      notBefore,
      expiresOn,
    ]);
  });

  it("an unknown secret or version is 404 SecretNotFound", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    expect(await failure(client.getSecret(name))).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    await client.setSecret(name, "x");
    const version = await failure(client.getSecret(name, { version: "f".repeat(32) }));
    expect(version).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    expect(version.message).toContain(`${name}/${"f".repeat(32)}`);
    expect(await failure(client.getDeletedSecret(name))).toMatchObject({ statusCode: 404 });
    expect(await failure(client.purgeDeletedSecret(name))).toMatchObject({ statusCode: 404 });
  });

  it("at most 15 tags per version, names of 1 to 127 letters, digits and '-', values up to 25 KB", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, "v"]));
    expect((await client.setSecret(name, "x", { tags: tags(15) })).properties.tags).toEqual(tags(15));
    const tooMany = await failure(client.setSecret(name, "x", { tags: tags(16) }));
    expect(tooMany).toMatchObject({ statusCode: 400, code: "BadParameter" });
    expect(tooMany.message).toContain("at most 15 tags");
    const updated = await client.getSecret(name);
    expect(
      await failure(client.updateSecretProperties(name, updated.properties.version!, { tags: tags(16) })),
    ).toMatchObject({
      statusCode: 400,
    });

    expect((await client.setSecret("a".repeat(127), "x")).name).toBe("a".repeat(127));
    for (const bad of ["a".repeat(128), "under_score", "dot.ted"]) {
      expect(await failure(client.setSecret(bad, "x")), bad).toMatchObject({ statusCode: 400, code: "BadParameter" });
    }
    expect((await client.setSecret(name, "v".repeat(25 * 1024))).value).toHaveLength(25 * 1024);
    expect(await failure(client.setSecret(name, "v".repeat(25 * 1024 + 1)))).toMatchObject({ statusCode: 400 });
  });

  it("a secret backing a certificate is managed: readable, never settable", async () => {
    const client = kv.secretClient();
    const name = kv.name("cert");
    kv.server.state.seedCertificateSecret(name, kv.server.vaultUrl);
    const read = await client.getSecret(name);
    expect(read.properties.managed).toBe(true);
    expect(read.properties.certificateKeyId).toBe(`${kv.server.vaultUrl}/keys/${name}`);
    expect(read.properties.contentType).toBe("application/x-pkcs12");
    expect(await failure(client.setSecret(name, "x"))).toMatchObject({ statusCode: 403, code: "Forbidden" });
  });

  it("an api-version other than the spec's is refused with 400", async () => {
    const client = kv.secretClient({ serviceVersion: "7.5" });
    const error = await failure(client.getSecret("anything"));
    expect(error).toMatchObject({ statusCode: 400, code: "BadParameter" });
    expect(error.message).toContain("2025-07-01");
    // The exchange is not held to the spec: it asked for another version of the API.
    kv.exchanges.length = 0;
  });
});
