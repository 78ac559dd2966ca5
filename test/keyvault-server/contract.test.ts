/**
 * Every secrets operation of the spec, driven through @azure/keyvault-secrets against the test server; every
 * response the SDK received is validated against the spec's definitions when each test ends (helpers/harness.ts).
 */
import { describe, expect, it } from "vitest";
import { contract, useKeyVaultServer } from "./helpers/harness.js";

const kv = useKeyVaultServer();
const VERSION = /^[0-9a-f]{32}$/;

describe("Key Vault test server: the spec's operations through the official SDK", () => {
  it("setSecret makes a version with a 32-hex id; the latest version is current; get by version reads an older one", async () => {
    const client = kv.secretClient();
    const name = kv.name("twilio");
    const first = await client.setSecret(name, '{"a":1}', {
      contentType: "application/json",
      tags: { owner: "team-a", "rotator-run": "r1" },
    });
    expect(first.properties.version).toMatch(VERSION);
    expect(first.properties.id).toBe(`${kv.server.vaultUrl}/secrets/${name}/${first.properties.version}`);
    expect(first.value).toBe('{"a":1}');
    expect(first.properties.contentType).toBe("application/json");
    expect(first.properties.tags).toEqual({ owner: "team-a", "rotator-run": "r1" });
    expect(first.properties.enabled).toBe(true);
    expect(first.properties.createdOn).toBeInstanceOf(Date);
    expect(first.properties.recoveryLevel).toBe("Recoverable+Purgeable");

    const second = await client.setSecret(name, '{"a":2}');
    expect(second.properties.version).not.toBe(first.properties.version);
    const latest = await client.getSecret(name);
    expect([latest.value, latest.properties.version]).toEqual(['{"a":2}', second.properties.version]);
    expect(latest.properties.tags).toBeUndefined(); // tags belong to a version, not the secret
    const older = await client.getSecret(name, { version: first.properties.version! });
    expect([older.value, older.properties.tags]).toEqual(['{"a":1}', { owner: "team-a", "rotator-run": "r1" }]);
    expect(kv.exchanges.map((e) => e.status)).toContain(200);
  });

  it("names are case-insensitive and keep their first spelling", async () => {
    const client = kv.secretClient();
    const name = kv.name("Twilio-Prod");
    await client.setSecret(name, "one");
    const read = await client.getSecret(name.toLowerCase());
    expect(read.value).toBe("one");
    expect(read.name).toBe(name);
  });

  it("updateSecretProperties changes a version's attributes and tags, never its value", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const set = await client.setSecret(name, "value-1", { tags: { a: "1" } });
    const expiresOn = new Date(Math.ceil(Date.now() / 1000 + 3600) * 1000);
    const updated = await client.updateSecretProperties(name, set.properties.version!, {
      tags: { b: "2" },
      contentType: "text/plain",
      expiresOn,
    });
    expect(updated.tags).toEqual({ b: "2" });
    expect(updated.contentType).toBe("text/plain");
    expect(updated.expiresOn).toEqual(expiresOn);
    expect((await client.getSecret(name)).value).toBe("value-1");
  });

  it("listPropertiesOfSecretVersions pages with nextLink, at most 25 per page, and refuses a bigger maxresults", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const versions = new Set<string>();
    for (let i = 0; i < 27; i++) versions.add((await client.setSecret(name, `v${i}`)).properties.version!);

    const pageSizes: number[] = [];
    const listed = new Set<string>();
    for await (const page of client.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: 10 })) {
      pageSizes.push(page.length);
      for (const properties of page) listed.add(properties.version!);
    }
    expect(pageSizes).toEqual([10, 10, 7]);
    expect(listed).toEqual(versions);
    const all: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) all.push(properties.version!);
    expect(all).toHaveLength(27);
    const pages = kv.exchanges.filter((e) => e.url.pathname.endsWith("/versions"));
    expect(pages.filter((e) => e.url.searchParams.has("$skiptoken")).length).toBeGreaterThanOrEqual(3);
    expect(pages.every((e) => e.url.searchParams.get("api-version") === "2025-07-01")).toBe(true);

    const tooBig = client.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: 26 });
    await expect(tooBig.next()).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("listPropertiesOfSecrets lists the latest version of every secret that is not deleted", async () => {
    const client = kv.secretClient();
    const names = [kv.name("listed"), kv.name("listed")];
    for (const name of names) {
      await client.setSecret(name, "old");
      await client.setSecret(name, "new", { tags: { latest: "yes" } });
    }
    const found = new Map<string, Record<string, string> | undefined>();
    for await (const properties of client.listPropertiesOfSecrets()) found.set(properties.name, properties.tags);
    for (const name of names) expect(found.get(name)).toEqual({ latest: "yes" });
  });

  it("soft delete: beginDeleteSecret, getDeletedSecret, listDeletedSecrets, beginRecoverDeletedSecret, purgeDeletedSecret", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    const set = await client.setSecret(name, "keep-me");
    const poller = await client.beginDeleteSecret(name, { intervalInMs: 10 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${kv.server.vaultUrl}/deletedsecrets/${name}`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    expect(deleted.properties.scheduledPurgeDate!.getTime()).toBeGreaterThan(Date.now() + 89 * 24 * 3600 * 1000);
    expect((await client.getDeletedSecret(name)).name).toBe(name);
    const deletedNames: string[] = [];
    for await (const item of client.listDeletedSecrets()) deletedNames.push(item.name);
    expect(deletedNames).toContain(name);

    const recover = await client.beginRecoverDeletedSecret(name, { intervalInMs: 10 });
    await recover.pollUntilDone();
    const back = await client.getSecret(name);
    expect([back.value, back.properties.version]).toEqual(["keep-me", set.properties.version]);

    await (await client.beginDeleteSecret(name, { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedSecret(name);
    await expect(client.getDeletedSecret(name)).rejects.toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    expect((await client.setSecret(name, "reused")).value).toBe("reused");
  });

  it("backupSecret and restoreSecretBackup bring a purged secret back with all its versions", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    await client.setSecret(name, "v1");
    await client.setSecret(name, "v2");
    const backup = await client.backupSecret(name);
    expect(backup).toBeInstanceOf(Uint8Array);
    await expect(client.restoreSecretBackup(backup!)).rejects.toMatchObject({ statusCode: 409, code: "Conflict" });
    await (await client.beginDeleteSecret(name, { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedSecret(name);
    const restored = await client.restoreSecretBackup(backup!);
    expect(restored.name).toBe(name);
    expect((await client.getSecret(name)).value).toBe("v2");
    let count = 0;
    for await (const _ of client.listPropertiesOfSecretVersions(name)) count++;
    expect(count).toBe(2);
  });

  it("the validator rejects a body, a status or a challenge that strays from the spec", async () => {
    const client = kv.secretClient();
    const name = kv.name();
    await client.setSecret(name, "x");
    const set = kv.exchanges.find((e) => e.method === "PUT" && e.status === 200);
    expect(set).toBeDefined();
    expect(() => contract.assertConforms(set!)).not.toThrow();
    const body = JSON.parse(set!.bodyText);

    const renamed = { ...set!, bodyText: JSON.stringify({ ...body, valu: body.value }) };
    expect(() => contract.assertConforms(renamed)).toThrow(/must NOT have additional properties/);
    const isoTime = { ...body, attributes: { ...body.attributes, created: new Date().toISOString() } };
    expect(() => contract.assertConforms({ ...set!, bodyText: JSON.stringify(isoTime) })).toThrow(/created/);
    expect(() => contract.assertConforms({ ...set!, status: 201 })).toThrow(/declares 200, default only/);
    const unauthorized = {
      ...set!,
      status: 401,
      headers: { "www-authenticate": 'Basic realm="vault"' },
      bodyText: JSON.stringify({ error: { code: "Unauthorized", message: "no" } }),
    };
    expect(() => contract.assertConforms(unauthorized)).toThrow(/challenge/);
    expect(() => contract.assertConforms({ ...unauthorized, bodyText: JSON.stringify({ error: {} }) })).toThrow(
      /error\.code/,
    );
    const validate = contract.validatorFor(contract.operationFor("GET", `/secrets/${name}/`), "200");
    expect(validate({ id: "x", attributes: { enabled: "yes" } })).toMatch(/enabled/);
  });
});
