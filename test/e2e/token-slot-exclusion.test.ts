/**
 * One account's Auth Token slot is shared by every config of the account, whatever its state directory or host
 * (issue #17, item 3). Each test rotates the token of a subaccount of its own.
 *
 * - the seen case: config X (its own state directory) has written its secondary and awaits its consumers;
 *   config Y of the same account (another state directory, other stores) rotates: Y is refused, X's secondary
 *   and every store keep working, Y's plan names X's unfinished run; X's resume re-checks its token and does
 *   not promote over Y's stores until Y is retired;
 * - X's secondary replaced behind its back: resume says so and puts every store back on the working primary,
 *   deleting nothing that is not its own; promoted behind its back: resume names the sync to run;
 * - 10 races of two configs from two state directories, and 5 of one config (a Vault store, which no file
 *   claim guards) from two state directories: 0 stores on a dead token, 0 consumers on one;
 * - with state on PostgreSQL, the slot is a lock row taken with the stores' locks, and another config's
 *   unfinished run of the account refuses a new one.
 */
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freshDatabase, type TestDatabase } from "../harness/postgres.js";
import { vaultClient } from "../harness/servers.js";
import { type CliRun, runCli, runJson, startCli, until, useE2e } from "./harness.js";
import {
  fingerprint,
  strandedTokenStores,
  type TokenConfig,
  type TokenWorkspace,
  tokenArgs,
  tokenIn,
  tokenReader,
  tokensOf,
  tokenWorks,
  tokenWorkspace,
} from "./token-workspace.js";

const e2e = useE2e();
const databases: TestDatabase[] = [];
e2e.onTeardown(() => Promise.all(databases.map((db) => db.drop())).then(() => undefined));

const args = tokenArgs;

const short = { verify: { consumersTimeoutSeconds: 0.5 } };

/** X: stores x-1 and x-2, and a consumer that reads x-1 once `ready` exists (so X awaits it until then). */
async function awaitingX(
  ws: TokenWorkspace,
): Promise<{ x: TokenConfig; ready: string; runId: string; secondary: string }> {
  const ready = join(ws.dir, "x-ready");
  const x = await ws.tokenConfig("x", ["x-1", "x-2"], {
    consumers: [await tokenReader(ws, "x-app", join(ws.dir, "x-1.env"), ready)],
    ...short,
  });
  const rotated = await runJson(args(x, "rotate"), { env: ws.env });
  expect(rotated.run.code, rotated.run.stderr).toBe(4);
  const secondary = (await tokenIn(x.stores[0]!))!;
  ws.secrets.push(secondary);
  return { x, ready, runId: rotated.result.runId!, secondary };
}

describe("two configs of one account's token, from two state directories", () => {
  it("Y is refused while X awaits its consumers; Y's plan names X's run; X does not promote over Y's stores", async () => {
    const ws = await tokenWorkspace(e2e);
    const { x, ready, runId, secondary } = await awaitingX(ws);
    const y = await ws.tokenConfig("y", ["y-1"], {
      consumers: [await tokenReader(ws, "y-app", join(ws.dir, "y-1.env"))],
    });

    const refused = await runJson(args(y, "rotate"), { env: ws.env });
    expect(refused.run.code, refused.run.stderr).toBe(6);
    expect(refused.result.error).toMatch(
      /a config marked in the account as rotating its Auth Token \(API key SK…\w{4} "rotator-token-config-/,
    );
    // Nothing of X's was touched: its secondary is still the account's, its stores hold it and it works.
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({
      primary: fingerprint(ws.account.token),
      secondary: fingerprint(secondary),
    });
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
    expect(await tokenIn(y.stores[0]!)).toBe(ws.account.token);

    // Y's plan sees the problem: X's claim of the slot, by run id, and X's stores' hold on the token.
    const plan = await runJson(args(y, "plan"), { env: ws.env });
    expect(plan.run.code).toBe(2);
    const problems = (plan.result as unknown as { problems: string[] }).problems.join("\n");
    expect(problems).toContain(
      `the Auth Token slot of account AC…${ws.account.sid.slice(-4)} is claimed by run ${runId}`,
    );
    expect(problems).toMatch(/which state directory .*state-y does not know/);

    // X's consumer converges; X's resume re-checks its token (alive), then will not promote: Y's stores hold
    // the primary, and Y is not known to X's state.
    await writeFile(ready, "");
    const resumed = await runJson(args(x, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(6);
    expect(resumed.result.error).toMatch(
      /a config marked in the account as rotating its Auth Token .*it was not revoked/,
    );
    expect(resumed.result.next).toContain("--allow-shared-revoke");
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);

    // Y is retired (its stores emptied of the token, its mark deleted as the hint says): X promotes.
    const xMark = `rotator-token-config-${await credentialKeyOf(x, runId)}`;
    const marks = e2e.emulator.keys(ws.account.sid).filter((k) => k.friendlyName.startsWith("rotator-token-config-"));
    expect(marks.map((k) => k.friendlyName)).toContain(xMark);
    const yMark = marks.find((k) => k.friendlyName !== xMark);
    expect(yMark).toBeDefined();
    await writeFile(y.stores[0]!, `TWILIO_ACCOUNT_SID=${ws.account.sid}\n`, { mode: 0o600 });
    await e2eRemoveKey(ws, yMark!.sid);
    const done = await runJson(args(x, "resume"), { env: ws.env });
    expect(done.run.code, done.run.stderr).toBe(0);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(secondary), secondary: null });
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
    // The run's slot claim is gone with the run.
    expect(e2e.emulator.keys(ws.account.sid).filter((k) => k.friendlyName.startsWith("rotator-token-slot-"))).toEqual(
      [],
    );
  });
});

/** The credential key a run of `config` journaled (what its mark in the account is named after). */
async function credentialKeyOf(config: TokenConfig, runId: string): Promise<string> {
  const first = (await readFile(join(config.stateDir, "runs", `${runId}.jsonl`), "utf8")).split("\n")[0]!;
  return (JSON.parse(first) as { credentialKey: string }).credentialKey;
}

async function e2eRemoveKey(ws: TokenWorkspace, sid: string): Promise<void> {
  const { createTwilioClient } = await import("../../src/twilio/client.js");
  const client = createTwilioClient({
    accountSid: ws.account.sid,
    username: ws.account.sid,
    password: ws.account.token,
    baseUrl: e2e.emulator.baseUrl,
  });
  await client.api.v2010.accounts(ws.account.sid).keys(sid).remove();
}

describe("resume re-checks the run's new token before waiting or promoting", () => {
  it("replaced behind its back: every store goes back to the working primary; the secondary (not its own) stays", async () => {
    const ws = await tokenWorkspace(e2e);
    const { x, ready } = await awaitingX(ws);
    // Someone else (the Console, another tool) creates a secondary: X's is replaced and dead.
    const theirs = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(theirs);
    await writeFile(ready, "");
    const resumed = await runJson(args(x, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(3);
    expect(resumed.result.error).toMatch(
      /the run's new token \S+ no longer authenticates: the account's secondary token was replaced, deleted or promoted by someone else.*every store goes back to the old token \S+, which still works/,
    );
    for (const file of x.stores) expect(await tokenIn(file)).toBe(ws.account.token);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({
      primary: fingerprint(ws.account.token),
      secondary: fingerprint(theirs),
    });
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
  });

  it("rollback of a run whose secondary was replaced restores every store and deletes nothing not its own", async () => {
    const ws = await tokenWorkspace(e2e);
    const { x, ready } = await awaitingX(ws);
    const theirs = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(theirs);
    // X's consumer reads its store again: back on the primary once the store is.
    await writeFile(ready, "");
    const rolledBack = await runJson(args(x, "rollback"), { env: ws.env });
    expect(rolledBack.run.code, rolledBack.run.stderr).toBe(0);
    expect(rolledBack.run.stderr).toMatch(/no longer authenticates .*it is not deleted, as it is no longer this run's/);
    for (const file of x.stores) expect(await tokenIn(file)).toBe(ws.account.token);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({
      primary: fingerprint(ws.account.token),
      secondary: fingerprint(theirs),
    });
  });

  it("promoted behind its back: nothing it holds works; it ends and names the sync to run", async () => {
    const ws = await tokenWorkspace(e2e);
    const { x } = await awaitingX(ws);
    const theirs = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(theirs);
    e2e.emulator.promote(ws.account.sid);
    const resumed = await runJson(args(x, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(7);
    expect(resumed.result.error).toMatch(/no longer authenticates.*and the old token \S+ no longer works either/);
    expect(resumed.result.hint).toContain("rotator sync --from-env NEW_TWILIO_AUTH_TOKEN");
    // The run is over (nothing left for resume), so the sync it names is not refused by it.
    const again = await runJson(args(x, "resume"), { env: ws.env });
    expect(again.result.status).toBe("nothing-to-resume");
  });
});

/** Both configs (or hosts) rotate at once, each held once it is recorded, until both are; then both go. */
async function race(ws: TokenWorkspace, configs: TokenConfig[]): Promise<CliRun[]> {
  const pauses = configs.map((_, i) => join(ws.dir, `pause-${i}`));
  await Promise.all(pauses.map((file) => writeFile(file, "")));
  const runs = configs.map((config, i) =>
    runCli(args(config, "rotate"), {
      env: { ...ws.env, ROTATOR_PAUSE: "before-lock:rotate", ROTATOR_PAUSE_FILE: pauses[i] },
    }),
  );
  await until(async () => pauses.every((file) => existsSync(`${file}.reached`)), 20_000).catch(() => undefined);
  await Promise.all(pauses.map((file) => rm(file, { force: true })));
  return Promise.all(runs);
}

describe("races for one account's token slot", () => {
  it("10 races of two configs from two state directories: no store and no consumer on a dead token", async () => {
    const outcomes: Array<{ codes: Array<number | null>; stranded: string[] }> = [];
    await Promise.all(
      [0, 1].map(async () => {
        for (let i = 0; i < 5; i++) {
          const ws = await tokenWorkspace(e2e);
          const x = await ws.tokenConfig("x", ["x-1"], {
            consumers: [await tokenReader(ws, "x-app", join(ws.dir, "x-1.env"))],
          });
          const y = await ws.tokenConfig("y", ["y-1"], {
            consumers: [await tokenReader(ws, "y-app", join(ws.dir, "y-1.env"))],
          });
          const runs = await race(ws, [x, y]);
          // Each consumer reads its own config's store: one on a dead token is a stranded store here.
          outcomes.push({ codes: runs.map((run) => run.code), stranded: await strandedTokenStores(ws, e2e.emulator) });
        }
      }),
    );
    expect(outcomes).toHaveLength(10);
    expect(outcomes.filter((o) => o.stranded.length > 0)).toEqual([]);
    for (const outcome of outcomes) for (const code of outcome.codes) expect([0, 5, 6]).toContain(code);
  });

  it("5 races of one config with a Vault store from two state directories: one rotates, the other is refused by the slot", async () => {
    const servers = inject("servers");
    let winnersSeen = 0;
    for (let i = 0; i < 5; i++) {
      const ws = await tokenWorkspace(e2e);
      const path = `e2e/slot-${Date.now()}-${i}`;
      await vaultClient(servers).write(`secret/data/${path}`, {
        data: { accountSid: ws.account.sid, authToken: ws.account.token },
      });
      ws.env.TEST_VAULT_TOKEN = servers.vault.token;
      const vault = {
        name: "vault",
        type: "vault-kv2",
        address: servers.vault.address,
        mount: "secret",
        path,
        auth: { method: "token", token: { env: "TEST_VAULT_TOKEN" } },
      };
      const hostA = await ws.tokenConfig("a", [], { stores: [vault] });
      const hostB = { ...hostA, stateDir: join(ws.dir, "state-b") };
      const runs = await race(ws, [hostA, hostB]);
      // At most one rotates (two that claim at the very same moment may both give way). The other is refused by
      // the slot, having created nothing; or, if the first was done before it got so far, by the token the first
      // promoted away (its admin credential, exit 2).
      const winners = runs.filter((run) => run.code === 0);
      winnersSeen += winners.length;
      expect(winners.length, runs.map((run) => run.stdout).join("\n")).toBeLessThanOrEqual(1);
      for (const run of runs.filter((r) => r.code !== 0)) {
        expect([2, 5, 6], `${run.stdout}\n${run.stderr}`).toContain(run.code);
        if (run.code === 2) continue;
        expect(JSON.parse(run.stdout).error).toMatch(
          /the Auth Token slot of account AC…\w{4} (is claimed by run \S+ \(API key SK…\w{4} "rotator-token-slot-|was claimed by run \S+ at the same moment)/,
        );
      }
      const held = (await vaultClient(servers).read(`secret/data/${path}`)).data.data as { authToken: string };
      ws.secrets.push(held.authToken);
      expect(await tokenWorks(e2e.emulator, ws.account.sid, held.authToken)).toBe(true);
      expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(held.authToken), secondary: null });
    }
    expect(winnersSeen).toBeGreaterThan(0);
  });
});

describe("with state on PostgreSQL", () => {
  it("the account's slot is a lock row taken with the stores'; another config's unfinished run refuses a new one", async () => {
    const db = await freshDatabase(inject("servers"), "slot");
    databases.push(db);
    const ws = await tokenWorkspace(e2e);
    ws.env.DATABASE_URL = db.url;
    const state = { state: { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: 5 } };
    const ready = join(ws.dir, "x-ready");
    const x = await ws.tokenConfig("x", ["x-1"], {
      ...state,
      consumers: [await tokenReader(ws, "x-app", join(ws.dir, "x-1.env"), ready)],
      ...short,
    });
    // Y's store holds no token yet (a config being set up): X's promote would strand nothing of Y's, as
    // X reads from Y's record in the shared state.
    const y = await ws.tokenConfig("y", ["y-1"], state);
    await writeFile(y.stores[0]!, `TWILIO_ACCOUNT_SID=${ws.account.sid}\n`, { mode: 0o600 });

    // X holds its locks (paused right after taking them): Y is refused at the slot's lock row.
    const pause = join(ws.dir, "pause-x");
    await writeFile(pause, "");
    const held = startCli(args(x, "rotate"), {
      env: { ...ws.env, ROTATOR_PAUSE: "after-lock:rotate", ROTATOR_PAUSE_FILE: pause },
    });
    await until(async () => existsSync(`${pause}.reached`), 20_000);
    const rows = await db.query<{ store_identity: string }>("SELECT store_identity FROM rotator_locks ORDER BY 1");
    expect(rows.rows.map((row) => row.store_identity)).toContainEqual(
      expect.stringMatching(new RegExp(`^twilio-token-slot:the Auth Token slot of account ${ws.account.sid} at `)),
    );
    const locked = await runJson(args(y, "rotate"), { env: ws.env });
    expect(locked.run.code, locked.run.stderr).toBe(5);
    expect(locked.result.error).toContain("the Auth Token slot of account");
    await rm(pause);
    const xRun = await held.done;
    expect(xRun.code, xRun.stderr).toBe(4);
    ws.secrets.push((await tokenIn(x.stores[0]!))!);

    // X is unfinished: Y (same database, another config) is refused, naming X's run and how to finish it.
    const refused = await runJson(args(y, "rotate"), { env: ws.env });
    expect(refused.run.code, refused.run.stderr).toBe(6);
    expect(refused.result.error).toContain(
      `run ${JSON.parse(xRun.stdout).runId} of config ${x.file} rotates this account's Auth Token and is not finished`,
    );
    expect(refused.result.hint).toContain(`rotator resume --config ${x.file}`);
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
  });
});
