/**
 * A host that lost its lease changes no store afterwards, whatever it was doing when it stopped. State on
 * PostgreSQL, two "hosts" (hosts.ts). For each store type (AWS Secrets Manager on moto, Vault on OpenBao, Key
 * Vault on the project's test server, a dotenv file) and for a write and a rollback:
 *
 *   host A is held inside its store call (ROTATOR_PAUSE) and stopped there (SIGSTOP), its lease runs out, host B
 *   rolls the run back, then A is woken (SIGCONT): the store is exactly as B left it (read by version id or
 *   stage, not through rotator), holds the old key, which still authenticates, the new key is gone, and A exits 5
 *   saying it lost the lease.
 *
 * Where A is held is the point of each case. AWS, Vault and the file: at `store-send`, every check of A's passed
 * and its request about to leave, as a request on the wire when a host freezes: the store itself must refuse
 * it (a conditional label move, check-and-set, a temp file removed by B). Key Vault offers no condition: A is
 * held at `store-change`, after its lease check and before its last check by the clock, which must stop it.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type nodeVault from "node-vault";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { freshDatabase, type TestDatabase } from "../harness/postgres.js";
import { awsClient, vaultClient } from "../harness/servers.js";
import { authenticates, readStoreKey, until, type Workspace } from "./harness.js";
import { type Host, json, twoHosts } from "./hosts.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();
/** Store calls get half of it (the default deadline with a lease this short): 3 s each, plenty on moto. */
const LEASE_SECONDS = 6;
let aws: SecretsManagerClient;
let vault: nodeVault.client;
const databases: TestDatabase[] = [];

beforeAll(() => {
  aws = awsClient(e2e.servers);
  vault = vaultClient(e2e.servers);
  e2e.onTeardown(async () => {
    aws.destroy();
    await Promise.all(databases.map((db) => db.drop()));
  });
});

/** Values by digest: a failing comparison prints both sides, and the values hold the secret. */
function digest(value: string | Uint8Array): string {
  return createHash("sha256").update(value).digest("hex");
}

/** One store of a type under test: its config entry, and its state read through its own SDK. */
interface StoreUnderTest {
  entry: Record<string, unknown>;
  /**
   * Everything a change would alter, by version id or stage (never by a read without one: moto bug 1), values
   * by their digest.
   */
  state(): Promise<unknown>;
  /** The key SID readers of the store get now. */
  keySid(): Promise<string | undefined>;
}

interface StoreCase {
  type: string;
  /** Where host A is held inside its write, and inside its rollback. */
  writePause: string;
  rollbackPause: string;
  make(ws: Workspace): Promise<StoreUnderTest>;
}

const CASES: StoreCase[] = [
  {
    type: "aws-secrets-manager",
    // Its version staged as AWSPENDING; the UpdateSecretVersionStage moving AWSCURRENT to it about to leave.
    writePause: "store-send:aws:switch",
    rollbackPause: "store-send:aws:restore-switch",
    async make(ws) {
      const { entry, secretId } = await e2e.awsStore(ws, e2e.seededValue(ws));
      const current = async () =>
        aws.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
      return {
        entry,
        async state() {
          const { VersionIdsToStages } = await aws.send(new DescribeSecretCommand({ SecretId: secretId }));
          const { Versions } = await aws.send(
            new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
          );
          const now = await current();
          return {
            labels: Object.entries(VersionIdsToStages ?? {})
              .filter(([, stages]) => stages.length > 0)
              .map(([id, stages]) => `${id}=${[...stages].sort().join(",")}`)
              .sort(),
            versions: (Versions ?? []).map((v) => v.VersionId).sort(),
            current: now.VersionId,
            value: digest(now.SecretString ?? ""),
          };
        },
        keySid: async () => (JSON.parse((await current()).SecretString ?? "{}") as { apiKeySid?: string }).apiKeySid,
      };
    },
  },
  {
    type: "vault-kv2",
    // Its check-and-set write (against the version it read) about to leave.
    writePause: "store-send:vault:write",
    rollbackPause: "store-send:vault:restore",
    async make(ws) {
      const { entry, path } = await e2e.vaultStore(ws, e2e.seededValue(ws));
      return {
        entry,
        async state() {
          const meta = await vault.read(`secret/metadata/${path}`);
          const latest = await vault.read(`secret/data/${path}`);
          return {
            currentVersion: meta.data.current_version,
            versions: Object.keys(meta.data.versions).sort(),
            data: digest(JSON.stringify(latest.data.data)),
          };
        },
        keySid: async () => (await vault.read(`secret/data/${path}`)).data.data.apiKeySid as string,
      };
    },
  },
  {
    type: "azure-key-vault",
    // The lease confirmed, the set not yet handed to the HTTP client: the clock check on waking must stop it.
    writePause: "store-change:azure:set",
    rollbackPause: "store-change:azure:restore",
    async make(ws) {
      const azure = await e2e.azureStore(ws, e2e.seededValue(ws));
      return {
        entry: azure.entry,
        state: async () => {
          const { value, version, tags } = await azure.state();
          return { value: digest(JSON.stringify(value)), version, tags, versions: await azure.versionCount() };
        },
        keySid: async () => (await azure.state()).value.apiKeySid as string,
      };
    },
  },
  {
    type: "dotenv-file",
    // Its temp file written and flushed, every check passed, the rename about to happen.
    writePause: "store-send:app-1:write",
    rollbackPause: "store-send:app-1:restore",
    async make(ws) {
      const file = ws.storeFiles[0] as string;
      return {
        entry: { name: "app-1", type: "dotenv-file", path: file },
        // A digest, not the bytes: a failing comparison prints both sides, and the bytes hold the secret.
        state: async () => ({
          sha256: createHash("sha256")
            .update(await readFile(file))
            .digest("hex"),
          inode: (await stat(file)).ino,
        }),
        keySid: async () => (await readStoreKey(file)).sid,
      };
    },
  },
];

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase(inject("servers"), "fence");
  databases.push(db);
  return db;
}

/** The account's keys that are not other workspaces' (the emulator's account is the file's, shared). */
function keysOf(ws: Workspace): () => string[] {
  const others = new Set(e2e.emulator.keys().map((k) => k.sid));
  others.delete(ws.seeded.sid);
  return () =>
    e2e.emulator
      .keys()
      .map((k) => k.sid)
      .filter((sid) => !others.has(sid));
}

/**
 * Two hosts rotating one store of `kind`, and a consumer that reports only the seeded key (so a rotation waits
 * for it, and a rollback finds it back on the old key at once) until told otherwise.
 */
async function setUp(kind: StoreCase): Promise<Setup> {
  const ws = await e2e.workspace(1);
  const store = await kind.make(ws);
  // The consumer reports the key SID in `on-key` (the seeded key unless a test says otherwise).
  const onKey = join(ws.dir, "on-key");
  await writeFile(onKey, ws.seeded.sid);
  const check = join(ws.dir, "consumer.sh");
  await writeFile(check, `#!/bin/sh\n[ "$ROTATOR_EXPECTED_KEY_SID" = "$(cat '${onKey}')" ]\n`, { mode: 0o755 });
  const db = await database();
  const [a, b] = await twoHosts(ws, db, LEASE_SECONDS, {
    stores: [store.entry],
    consumers: [{ name: "app", type: "command", command: [check] }],
    verify: { consumersTimeoutSeconds: 1, consumersPollSeconds: 0.2 },
  });
  return { ws, store, db, a, b, consumerOn: (sid) => writeFile(onKey, sid) };
}

interface Setup {
  ws: Workspace;
  store: StoreUnderTest;
  db: TestDatabase;
  a: Host;
  b: Host;
  /** From now on the consumer reports this key. */
  consumerOn(sid: string): Promise<void>;
}

/**
 * Host A runs `command` until it reaches `point`, where it is stopped (SIGSTOP) until its lease has run out and
 * host B has rolled the run back; then it is woken. Returns the store's state after B, and A's end.
 */
async function stopTakeOverWake(
  setup: Setup,
  command: "rotate" | "rollback",
  point: string,
  taker: { beforeRollback?: () => Promise<void>; rollbackExit?: number } = {},
) {
  const { ws, store, db, a, b } = setup;
  const pause = join(ws.dir, `pause-${randomBytes(3).toString("hex")}`);
  await writeFile(pause, "");
  const held = a.start(command, { ROTATOR_PAUSE: point, ROTATOR_PAUSE_FILE: pause });
  let afterB: unknown;
  try {
    await until(async () => existsSync(`${pause}.reached`) || held.child.exitCode !== null, 60_000);
    if (!existsSync(`${pause}.reached`)) throw new Error(`host A never reached ${point}:\n${(await held.done).stderr}`);
    held.child.kill("SIGSTOP");
    await rm(pause);
    await until(
      async () => (await db.query("SELECT 1 FROM rotator_locks WHERE expires_at > now()")).rows.length === 0,
      LEASE_SECONDS * 1000 + 10_000,
    );
    await taker.beforeRollback?.();
    const rolledBack = await b.run("rollback");
    expect(rolledBack.code, rolledBack.stderr).toBe(taker.rollbackExit ?? 0);
    if (taker.rollbackExit === undefined) expect(json(rolledBack)).toMatchObject({ status: "rolled-back" });
    afterB = await store.state();
  } finally {
    held.child.kill("SIGCONT");
  }
  return { afterB, woken: await held.done };
}

/** What every case ends with: A stopped on its lost lease, the store untouched since B, the old key in use. */
async function expectNothingChangedByA(
  setup: Setup,
  outcome: Awaited<ReturnType<typeof stopTakeOverWake>>,
  keys: () => string[],
  newKeyKept?: string,
) {
  const { ws, store } = setup;
  const { woken, afterB } = outcome;
  expect(woken.code, `${woken.stdout}\n${woken.stderr}`).toBe(5);
  expect(json(woken).error).toMatch(/no longer holds the lease on its stores' locks/);
  expect(await store.state()).toEqual(afterB);
  expect(await store.keySid()).toBe(ws.seeded.sid);
  expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  expect(keys().sort()).toEqual([ws.seeded.sid, ...(newKeyKept === undefined ? [] : [newKeyKept])].sort());
}

describe("a host stopped inside a store call past its lease changes nothing once another host took over", () => {
  for (const kind of CASES) {
    describe(kind.type, () => {
      it("stopped inside its write; another host rolls the run back; woken, it changes nothing and exits 5", async () => {
        const setup = await setUp(kind);
        const keys = keysOf(setup.ws);
        const outcome = await stopTakeOverWake(setup, "rotate", kind.writePause);
        await expectNothingChangedByA(setup, outcome, keys);
      });

      it("stopped inside its rollback; another host finishes the rollback; woken, it changes nothing and exits 5", async () => {
        const setup = await setUp(kind);
        const keys = keysOf(setup.ws);
        const awaiting = await setup.a.run("rotate");
        expect(awaiting.code, awaiting.stderr).toBe(4);
        expect(await setup.store.keySid()).not.toBe(setup.ws.seeded.sid);
        const outcome = await stopTakeOverWake(setup, "rollback", kind.rollbackPause);
        await expectNothingChangedByA(setup, outcome, keys);
      });
    });
  }
});

/**
 * The file's own fence, where the taker does not tidy up after itself: a rollback that cannot finish (a consumer
 * still on the new key keeps it alive, exit 7) leaves the run's temp files alone in release. What stops the
 * woken writer is that the taker removed every rotator temp file beside the file before touching it.
 */
describe("a dotenv file: the taker's rollback cannot finish, and the woken holder still changes nothing", () => {
  const kind = CASES.find((c) => c.type === "dotenv-file") as StoreCase;

  it("stopped inside its write; the rollback keeps the new key for a consumer; woken, it changes nothing", async () => {
    const setup = await setUp(kind);
    const keys = keysOf(setup.ws);
    const outcome = await stopTakeOverWake(setup, "rotate", kind.writePause, {
      beforeRollback: async () => setup.consumerOn(newKeyOf(keys, setup.ws)),
      rollbackExit: 7,
    });
    await expectNothingChangedByA(setup, outcome, keys, newKeyOf(keys, setup.ws));
  });

  it("stopped inside its rollback; the rollback keeps the new key for a consumer; woken, it changes nothing", async () => {
    const setup = await setUp(kind);
    const keys = keysOf(setup.ws);
    expect((await setup.a.run("rotate")).code).toBe(4);
    const outcome = await stopTakeOverWake(setup, "rollback", kind.rollbackPause, {
      beforeRollback: async () => setup.consumerOn(newKeyOf(keys, setup.ws)),
      rollbackExit: 7,
    });
    await expectNothingChangedByA(setup, outcome, keys, newKeyOf(keys, setup.ws));
  });
});

/** The run's new key: the workspace's one key that is not the seeded one. */
function newKeyOf(keys: () => string[], ws: Workspace): string {
  const made = keys().filter((sid) => sid !== ws.seeded.sid);
  expect(made).toHaveLength(1);
  return made[0] as string;
}

describe("plan with state on PostgreSQL", () => {
  it("says how each store keeps a host that lost its lease out, and states Key Vault's residual window exactly", async () => {
    const ws = await e2e.workspace(1);
    const azure = await e2e.azureStore(ws, e2e.seededValue(ws));
    const db = await database();
    const [a] = await twoHosts(ws, db, LEASE_SECONDS, {
      stores: [
        { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] },
        { ...azure.entry, timeoutSeconds: 2 },
      ],
    });
    const planned = await a.run("plan");
    expect(planned.code, planned.stderr).toBe(0);
    const notes = (json(planned).notes as string[]).join("\n");
    expect(notes).toContain(
      `fencing (state on PostgreSQL, lease ${LEASE_SECONDS} s): a host that loses its lease changes no store afterwards`,
    );
    expect(notes).toContain("; app-1 also refuse by themselves such a request that arrives late");
    expect(notes).toMatch(
      /store "azure": Azure Key Vault secret \S+ at \S+ offers no conditional write, so one window remains: .* stays frozen longer than the lease had left \(at least 2 s\), sends that request when it wakes/,
    );
    expect(planned.stdout).not.toContain(azure.clientSecret);
  });
});
