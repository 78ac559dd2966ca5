/**
 * Faults as the Twilio emulator has them (429 with Retry-After, 5xx, latency, refused writes, broken connections),
 * seen through @azure/keyvault-secrets; and the control routes a server in another process is driven by.
 */
import { describe, expect, it } from "vitest";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { corruptOne } from "../../src/keyvault-emulator/faults.js";
import { useKeyVaultServer } from "./helpers/harness.js";

const kv = useKeyVaultServer();

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as {
      statusCode?: number;
      code?: string;
      message: string;
      response?: { headers: { get(n: string): string | undefined } };
    };
  }
  throw new Error("expected the call to fail");
}

async function versionCount(name: string): Promise<number> {
  let count = 0;
  for await (const _ of kv.secretClient().listPropertiesOfSecretVersions(name)) count++;
  return count;
}

describe("Key Vault test server: faults", () => {
  it("429 with Retry-After: the SDK waits and retries; without retries the caller sees it", async () => {
    const name = kv.name();
    const client = kv.secretClient();
    await client.setSecret(name, "v1");
    const fault = kv.server.faults.add({ kind: "rate-limit", retryAfterSeconds: 1, method: "GET", times: 1 });
    const started = Date.now();
    expect((await client.getSecret(name)).value).toBe("v1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(kv.server.faults.get(fault.id)?.fired).toBe(1);
    const statuses = kv.exchanges.filter((e) => e.method === "GET").map((e) => [e.status, e.headers["retry-after"]]);
    expect(statuses).toEqual([
      [429, "1"],
      [200, undefined],
    ]);

    kv.server.faults.add({ kind: "rate-limit", retryAfterSeconds: 7, method: "GET", times: 1 });
    const impatient = kv.secretClient({ retryOptions: { maxRetries: 0 } });
    await impatient.setSecret(kv.name(), "challenge done");
    const error = await failure(impatient.getSecret(name));
    expect(error).toMatchObject({ statusCode: 429, code: "Throttled" });
    expect(error.response?.headers.get("retry-after")).toBe("7");
  });

  it("5xx: a passing server error is retried by the SDK; state never changes on one", async () => {
    const name = kv.name();
    const client = kv.secretClient({ retryOptions: { retryDelayInMs: 10, maxRetries: 3 } });
    await client.setSecret(name, "v1");
    kv.server.faults.add({ kind: "server-error", status: 503, method: "PUT", times: 2 });
    await client.setSecret(name, "v2");
    expect(kv.exchanges.filter((e) => e.method === "PUT").map((e) => e.status)).toEqual([401, 200, 503, 503, 200]);
    expect(await versionCount(name)).toBe(2);
  });

  it("latency delays the answer", async () => {
    const name = kv.name();
    const client = kv.secretClient();
    await client.setSecret(name, "v1");
    kv.server.faults.add({ kind: "latency", latencyMs: 300, path: `/secrets/${name}/`, times: 1 });
    const started = Date.now();
    await client.getSecret(name);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("refused writes: sets are 403 ForbiddenByRbac while reads go on", async () => {
    const name = kv.name();
    const client = kv.secretClient();
    await client.setSecret(name, "v1");
    const fault = kv.server.faults.add({ kind: "refuse-writes", path: `/secrets/${name}` });
    expect(await failure(client.setSecret(name, "v2"))).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect((await client.getSecret(name)).value).toBe("v1");
    kv.server.faults.remove(fault.id);
    expect((await client.setSecret(name, "v2")).value).toBe("v2");
  });

  it("a connection reset before the vault acts changes nothing; a lost answer after it acted leaves the new version", async () => {
    const name = kv.name();
    const client = kv.secretClient({ retryOptions: { maxRetries: 0 } });
    await client.setSecret(name, "v1");
    kv.server.faults.add({ kind: "reset", method: "PUT", times: 1 });
    expect((await failure(client.setSecret(name, "v2"))).statusCode).toBeUndefined();
    expect(await versionCount(name)).toBe(1);

    kv.server.faults.add({ kind: "drop-response", method: "PUT", times: 1 });
    expect((await failure(client.setSecret(name, "v3"))).statusCode).toBeUndefined();
    expect(await versionCount(name)).toBe(2);
    expect((await client.getSecret(name)).value).toBe("v3");
  });

  it("a corrupted value: one character of the secret changes in the matching answers only; the vault keeps the real one", async () => {
    const name = kv.name();
    const client = kv.secretClient();
    const original = '{"apiKeySecret":"s3cretZ9"}';
    const first = await client.setSecret(name, original);
    const version = first.properties.version!;
    await client.setSecret(name, "latest-value");
    const fault = kv.server.faults.add({
      kind: "corrupt-value",
      method: "GET",
      path: `/secrets/${name}/${version}`,
      offset: original.indexOf("Z"),
      times: 1,
    });
    expect((await client.getSecret(name)).value).toBe("latest-value");
    expect(kv.server.faults.get(fault.id)?.fired).toBe(0);
    expect((await client.getSecret(name, { version })).value).toBe('{"apiKeySecret":"s3cretA9"}');
    expect(kv.server.faults.get(fault.id)?.fired).toBe(1);
    // Only the answer was corrupted: the next read (the fault used up) gets the value as it was set.
    expect((await client.getSecret(name, { version })).value).toBe(original);
    expect(await versionCount(name)).toBe(2);
  });

  it("corruptOne changes exactly one character: a letter or digit to the next of its kind, anything else to #", () => {
    expect(corruptOne("abcde")).toBe("abdde");
    expect(corruptOne("xyz", 2)).toBe("xya");
    expect(corruptOne("AZ", 1)).toBe("AA");
    expect(corruptOne("09", 1)).toBe("00");
    expect(corruptOne('{"a":1}', 1)).toBe('{#a":1}');
    expect(corruptOne("abc", 99)).toBe("abd");
    expect(corruptOne("")).toBe("");
  });

  it("faults skip the SDK's token-less challenge probe, so a fault meant for an operation is not used up on it", async () => {
    const name = kv.name();
    kv.server.faults.add({ kind: "server-error", status: 500, method: "PUT", times: 1 });
    const fresh = kv.secretClient({ retryOptions: { maxRetries: 0 } });
    expect((await failure(fresh.setSecret(name, "v1"))).statusCode).toBe(500);
    expect(kv.exchanges.map((e) => e.status)).toEqual([401, 500]);
  });

  it("a hook runs when a matching request arrives, before the vault acts on it", async () => {
    const name = kv.name();
    const client = kv.secretClient();
    await client.setSecret(name, "v1");
    const seen: string[] = [];
    kv.server.beforeNext({ method: "PUT", path: `/secrets/${name}` }, async () => {
      seen.push((await kv.secretClient().getSecret(name)).value ?? "");
      await kv.secretClient().setSecret(name, "theirs");
    });
    await client.setSecret(name, "ours");
    expect(seen).toEqual(["v1"]);
    expect((await client.getSecret(name)).value).toBe("ours");
    expect(await versionCount(name)).toBe(3);
  });
});

describe("Key Vault test server: control over HTTPS (for a server in another process)", () => {
  it("adds and removes faults, applications and permissions, and reports a secret-free snapshot", async () => {
    const admin = keyVaultAdmin(kv.server.vaultUrl, kv.server.caPem);
    expect(await admin.health()).toBe(true);
    const name = kv.name();
    const { clientId } = await admin.addClient({ clientSecret: "admin-made-secret-0001", permissions: ["get", "set"] });
    const client = kv.secretClient({ credential: kv.credential(clientId, "admin-made-secret-0001") });
    await client.setSecret(name, "hidden-value-0001");

    const fault = await admin.addFault({ kind: "refuse-writes", path: `/secrets/${name}` });
    expect(await failure(client.setSecret(name, "x"))).toMatchObject({ statusCode: 403 });
    await admin.removeFault(fault.id);
    await admin.setPermissions(clientId, ["get"]);
    expect(await failure(client.setSecret(name, "x"))).toMatchObject({ statusCode: 403 });
    await admin.setPermissions(clientId, ["get", "set"]);
    await client.setSecret(name, "hidden-value-0002");

    const snapshot = await admin.snapshot();
    const text = JSON.stringify(snapshot);
    expect(text).not.toContain("hidden-value");
    expect(snapshot.secrets.find((s) => s.name === name)?.versions).toHaveLength(2);
    expect((await admin.requests()).some((r) => r.operationId === "SetSecret" && r.status === 403)).toBe(true);

    await admin.seedCertificateSecret(kv.name("cert"));
    await admin.removeClient(clientId);
    expect(
      await failure(kv.credential(clientId, "admin-made-secret-0001").getToken("https://vault.azure.net/.default")),
    ).toMatchObject({
      message: expect.stringContaining("unauthorized_client"),
    });
  });
});
