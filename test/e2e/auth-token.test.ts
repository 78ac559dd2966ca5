/**
 * Auth Token rotation (issue #9) through the real CLI against the Twilio emulator: a secondary token written
 * to every store, consumers switched, and only then promoted, so not one request of any consumer is answered
 * 20003; failures before the promote leave the primary, every store and no secondary; kill -9 anywhere, even
 * between the promote and its journal entry, then resume; emergencies; and `sync` after a promote done behind
 * rotator's back.
 *
 * Each test rotates the token of a subaccount of its own (a token is promoted by its own account), so tests
 * in this file never see each other's tokens.
 */

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTwilioClient, isTwilioApiError } from "../../src/twilio/client.js";
import { maskSid } from "../../src/util/mask.js";
import { awsClient, vaultClient } from "../harness/servers.js";
import { type AzureStore, makeAzureStore } from "./azure-store.js";
import { consumerFleet } from "./consumer-fleet.js";
import {
  ADMIN_VARIABLE,
  cliArgs,
  journalRecords,
  journals,
  readStoreKey,
  runCli,
  until,
  useE2e,
  type Workspace,
} from "./harness.js";

const e2e = useE2e();
const fleet = consumerFleet(() => e2e.emulator.baseUrl);
afterAll(() => fleet.stopAll());

const fingerprint = (token: string) => createHash("sha256").update(token).digest("hex").slice(0, 16);
const masked = (token: string) => maskSid(fingerprint(token));

interface TokenWorkspace extends Workspace {
  account: { sid: string; token: string };
  /** Store entries for the config, in order (JSON is valid YAML flow). */
  stores: Array<Record<string, unknown>>;
  write(options?: {
    consumers?: string[];
    verify?: string;
    extraStores?: Array<Record<string, unknown>>;
  }): Promise<void>;
}

/** A subaccount of its own, its primary token in `dotenvCount` dotenv files, and a config rotating it. */
async function tokenWorkspace(dotenvCount = 2): Promise<TokenWorkspace> {
  const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "token-e2e-" });
  const account = { sid: sub!.sid, token: sub!.authToken };
  const dir = await mkdtemp(join(tmpdir(), "rotator-token-"));
  const storeFiles: string[] = [];
  for (let i = 1; i <= dotenvCount; i++) {
    const file = join(dir, `app-${i}.env`);
    await writeFile(
      file,
      `# app-${i}\nTWILIO_ACCOUNT_SID=${account.sid}\nTWILIO_AUTH_TOKEN=${account.token}\nLOG=info\n`,
      {
        mode: 0o600,
      },
    );
    storeFiles.push(file);
  }
  const ws: TokenWorkspace = {
    dir,
    configPath: join(dir, "rotator.yaml"),
    stateDir: join(dir, "state"),
    env: { ...process.env, [ADMIN_VARIABLE]: account.token, ROTATOR_FAILPOINT: undefined },
    seeded: { sid: account.sid, secret: account.token },
    storeFiles,
    secrets: [account.token],
    twilio: { accountSid: account.sid, baseUrl: e2e.emulator.baseUrl },
    account,
    stores: storeFiles.map((file, i) => ({ name: `app-${i + 1}`, type: "dotenv-file", path: file })),
    async writeConfig(extra = "") {
      await ws.write();
      if (extra) await writeFile(ws.configPath, `${await readFile(ws.configPath, "utf8")}${extra}`);
    },
    async write(options = {}) {
      const stores = [...(options.extraStores ?? []), ...ws.stores].map((store) => `  - ${JSON.stringify(store)}`);
      await writeFile(
        ws.configPath,
        [
          "version: 1",
          `twilio: { accountSid: ${account.sid}, admin: { authToken: { env: ${ADMIN_VARIABLE} } }, baseUrl: "${e2e.emulator.baseUrl}" }`,
          "credential: { type: auth-token, webhookSigningLagSeconds: 0 }",
          "stores:",
          ...stores,
          ...(options.consumers === undefined ? [] : ["consumers:", ...options.consumers]),
          `verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersPollSeconds: 0.2${options.verify ? `, ${options.verify}` : ""} }`,
          "",
        ].join("\n"),
      );
    },
  } as TokenWorkspace;
  e2e.workspaces.push(ws);
  await ws.write();
  return ws;
}

async function tokenIn(file: string): Promise<string | undefined> {
  return (await readFile(file, "utf8")).match(/^TWILIO_AUTH_TOKEN=(.*)$/m)?.[1];
}

/** Whether Twilio (the emulator) accepts this account's token now: false means 401/20003. */
async function tokenWorks(sid: string, token: string): Promise<boolean> {
  const client = createTwilioClient({ accountSid: sid, username: sid, password: token, baseUrl: e2e.emulator.baseUrl });
  try {
    await client.api.v2010.accounts(sid).fetch();
    return true;
  } catch (error) {
    if (isTwilioApiError(error) && error.status === 401) return false;
    throw error;
  }
}

/** The account's tokens as the emulator holds them: the primary's fingerprint and whether a secondary is left. */
function tokensOf(sid: string): { primary: string; secondary: boolean } {
  const account = e2e.emulator.snapshot().accounts.find((a) => a.sid === sid)!;
  return {
    primary: account.authToken.fingerprint.replace(/^sha256:/, ""),
    secondary: account.secondaryAuthToken !== null,
  };
}

const events = async (ws: Workspace) =>
  (await journals(ws))
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { event: string; ts: string; [key: string]: unknown });

describe("auth token rotation", () => {
  it("seven consumers on five stores (dotenv, Vault, AWS, Azure) see no 20003; all switch before the promote", async () => {
    const ws = await tokenWorkspace(2);
    const servers = inject("servers");
    const value = { accountSid: ws.account.sid, authToken: ws.account.token, region: "us1" };
    const vaultPath = `e2e/token-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
    await vaultClient(servers).write(`secret/data/${vaultPath}`, { data: value });
    const vaultStore = {
      name: "vault",
      type: "vault-kv2",
      address: servers.vault.address,
      mount: "secret",
      path: vaultPath,
      auth: { method: "token", token: { env: "TEST_VAULT_TOKEN" } },
    };
    const aws = awsClient(servers);
    await aws.send(new CreateSecretCommand({ Name: vaultPath, SecretString: JSON.stringify(value) }));
    const awsStore = {
      name: "aws",
      type: "aws-secrets-manager",
      secretId: vaultPath,
      region: servers.aws.region,
      endpoint: servers.aws.endpoint,
    };
    const azure: AzureStore = await makeAzureStore(servers, value);
    Object.assign(ws.env, azure.env, {
      TEST_VAULT_TOKEN: servers.vault.token,
      AWS_ACCESS_KEY_ID: servers.aws.accessKeyId,
      AWS_SECRET_ACCESS_KEY: servers.aws.secretAccessKey,
    });
    ws.secrets.push(azure.clientSecret);
    const dotenv = (i: number) => ({ name: `app-${i}`, type: "dotenv-file", path: ws.storeFiles[i - 1] });
    const token = { kind: "auth-token" as const, callIntervalMs: 40 };
    const consumers = await Promise.all([
      fleet.start("web-1", dotenv(1), ws.env, token),
      fleet.start("web-2", dotenv(1), ws.env, token),
      fleet.start("worker-1", dotenv(2), ws.env, { ...token, ttlSeconds: 1, noReload: true }),
      fleet.start("vault-1", vaultStore, ws.env, token),
      fleet.start("vault-2", vaultStore, ws.env, { ...token, ttlSeconds: 1, noReload: true }),
      fleet.start("aws-1", awsStore, ws.env, token),
      fleet.start("azure-1", azure.entry, ws.env, token),
    ]);
    await ws.write({
      extraStores: [awsStore, vaultStore, azure.entry],
      // worker-1 and vault-2 have no reload hook: they pick the new token up when their 1 s cache expires.
      consumers: consumers.map((c) => c.yaml({ reload: c.name !== "worker-1" && c.name !== "vault-2" })),
      verify: "consumersTimeoutSeconds: 30",
    });
    // Every consumer works with the current token before the run.
    await until(async () => (await Promise.all(consumers.map((c) => c.stats()))).every((s) => s.ok > 0));

    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ status: "completed", credentialType: "auth-token" });
    const newToken = (await tokenIn(ws.storeFiles[0]!))!;
    ws.secrets.push(newToken);
    expect(newToken).not.toBe(ws.account.token);
    expect(result.newCredential).toBe(masked(newToken));
    expect(result.oldCredential).toBe(masked(ws.account.token));

    // Every store holds the new token, read through its own SDK.
    expect(await tokenIn(ws.storeFiles[1]!)).toBe(newToken);
    expect((await vaultClient(servers).read(`secret/data/${vaultPath}`)).data.data).toEqual({
      ...value,
      authToken: newToken,
    });
    const awsValue = await aws.send(new GetSecretValueCommand({ SecretId: vaultPath, VersionStage: "AWSCURRENT" }));
    expect(JSON.parse(awsValue.SecretString!)).toEqual({ ...value, authToken: newToken });
    aws.destroy();
    expect((await azure.state()).value).toEqual({ ...value, authToken: newToken });

    // Twilio: the new token is the primary, no secondary is left, the old token is refused.
    expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(newToken), secondary: false });
    expect(await tokenWorks(ws.account.sid, ws.account.token)).toBe(false);
    expect(await tokenWorks(ws.account.sid, newToken)).toBe(true);

    // Every consumer reported the new fingerprint before the promote started (journal timestamps).
    const journal = await events(ws);
    const checked = journal.find((e) => e.event === "consumers-checked") as unknown as {
      converged: boolean;
      results: Array<{ name: string; convergedAt: string | null }>;
    };
    const promoted = journal.find((e) => e.event === "revoke-started")!;
    expect(checked.converged).toBe(true);
    for (const consumer of checked.results) {
      expect(consumer.convergedAt, consumer.name).not.toBeNull();
      expect(Date.parse(consumer.convergedAt!)).toBeLessThanOrEqual(Date.parse(promoted.ts));
    }
    expect(journal.map((e) => e.event)).toContain("token-issued");
    expect(journal.map((e) => e.event)).toContain("old-token-revoked");

    // Zero requests answered 20003, over the whole run, for every consumer; each now uses the new token.
    for (const consumer of consumers) {
      // Its next good call uses the new token (polled: under load the call loop may not have come round yet).
      await expect
        .poll(async () => (await consumer.stats()).keys.at(-1), { timeout: 10_000, message: consumer.name })
        .toBe(fingerprint(newToken));
      const stats = await consumer.stats();
      expect({ name: consumer.name, unauthorized: stats.unauthorized }).toEqual({
        name: consumer.name,
        unauthorized: 0,
      });
    }
    // The admin variable still holds the old (dead) token: the run completed anyway, and says so.
    expect(ws.env[ADMIN_VARIABLE]).toBe(ws.account.token);
    expect(result.warnings.join("\n")).toContain(`env ${ADMIN_VARIABLE} holds the old token, which no longer works`);
    await Promise.all(consumers.map((c) => c.stop()));
  });
});

describe("a failure before the promote leaves the primary, every store, and no secondary", () => {
  async function expectUntouched(ws: TokenWorkspace, before: string[]): Promise<void> {
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f, "utf8")))).toEqual(before);
    expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(ws.account.token), secondary: false });
    expect(await tokenWorks(ws.account.sid, ws.account.token)).toBe(true);
  }

  it("the secondary's create fails: nothing to undo but nothing left either (exit 3)", async () => {
    const ws = await tokenWorkspace(2);
    const before = await Promise.all(ws.storeFiles.map((f) => readFile(f, "utf8")));
    e2e.emulator.faults.add({
      kind: "server-error",
      status: 503,
      method: "POST",
      path: "/v1/AuthTokens/Secondary",
      times: 10,
    });
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    e2e.emulator.faults.clear();
    expect(run.code, run.stderr).toBe(3);
    expect(JSON.parse(run.stdout).error).toContain("creating the new credential failed");
    await expectUntouched(ws, before);
  });

  for (const failing of [1, 2]) {
    it(`store app-${failing} fails to write (its directory turns immutable mid-run): rolled back, secondary deleted (exit 3)`, async () => {
      const ws = await tokenWorkspace(2);
      const lockedDir = join(ws.dir, "locked");
      await mkdir(lockedDir, { mode: 0o700 });
      const moved = join(lockedDir, `app-${failing}.env`);
      await writeFile(moved, await readFile(ws.storeFiles[failing - 1]!), { mode: 0o600 });
      await rm(ws.storeFiles[failing - 1]!);
      ws.storeFiles[failing - 1] = moved;
      ws.stores[failing - 1] = { ...ws.stores[failing - 1], path: moved };
      await ws.write();
      const before = await Promise.all(ws.storeFiles.map((f) => readFile(f, "utf8")));
      e2e.emulator.faults.add({
        kind: "latency",
        latencyMs: 1500,
        method: "POST",
        path: "/v1/AuthTokens/Secondary",
        times: 1,
      });
      const { execFileSync } = await import("node:child_process");
      let run: Awaited<ReturnType<typeof runCli>>;
      try {
        const running = runCli(cliArgs(ws, "rotate"), { env: ws.env });
        await until(async () => (await journals(ws)).includes('"issue-started"'));
        execFileSync("chattr", ["+i", lockedDir]);
        run = await running;
      } finally {
        execFileSync("chattr", ["-i", lockedDir]);
      }
      expect(run.code, run.stderr).toBe(3);
      expect(JSON.parse(run.stdout).error).toContain(`app-${failing}`);
      await expectUntouched(ws, before);
      expect((await journalRecords(ws)).filter((record) => record.event === "token-discarded")).toHaveLength(1);
    });
  }

  it("a consumer that never switches: awaiting (exit 4), then rollback leaves everything as it was", async () => {
    const ws = await tokenWorkspace(1);
    const check = join(ws.dir, "never.sh");
    await writeFile(
      check,
      `#!/bin/sh\ntest "$ROTATOR_EXPECTED_TOKEN_FINGERPRINT" = "${fingerprint(ws.account.token)}"\n`,
      {
        mode: 0o755,
      },
    );
    await ws.write({
      consumers: [`  - { name: stuck, type: command, command: [${check}] }`],
      verify: "consumersTimeoutSeconds: 1",
    });
    const before = await Promise.all(ws.storeFiles.map((f) => readFile(f, "utf8")));
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(4);
    ws.secrets.push((await tokenIn(ws.storeFiles[0]!))!);
    // The old token still works, the secondary exists until the rollback.
    expect(await tokenWorks(ws.account.sid, ws.account.token)).toBe(true);
    expect(tokensOf(ws.account.sid).secondary).toBe(true);
    const rolledBack = await runCli(cliArgs(ws, "rollback"), { env: ws.env });
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    await expectUntouched(ws, before);
  });
});

describe("kill -9 at every failpoint, then resume", () => {
  const points: Array<[string, "completed" | "rolled-back"]> = [
    ["after-create", "rolled-back"],
    ["after-issue", "rolled-back"],
    ["after-verify", "rolled-back"],
    ["after-prepare:app-1", "rolled-back"],
    ["after-write:app-1", "completed"],
    ["after-write:app-2", "completed"],
    ["after-commit", "completed"],
    ["after-revoke-started", "completed"],
    ["after-revoke", "completed"],
  ];
  for (const [point, expected] of points) {
    it(`killed at ${point}: resume ends ${expected}, with a working admin credential and no secondary left`, async () => {
      const ws = await tokenWorkspace(2);
      const killed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: point } });
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
      const result = JSON.parse(resumed.stdout);
      const held = await Promise.all(ws.storeFiles.map(tokenIn));
      for (const token of held) if (token !== undefined) ws.secrets.push(token);
      expect(held[1]).toBe(held[0]);
      if (expected === "completed") {
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(result.status).toBe("completed");
        expect(held[0]).not.toBe(ws.account.token);
        expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(held[0]!), secondary: false });
        expect(await tokenWorks(ws.account.sid, ws.account.token)).toBe(false);
      } else {
        expect(resumed.code, resumed.stderr).toBe(3);
        expect(result.status).toBe("rolled-back");
        expect(held[0]).toBe(ws.account.token);
        expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(ws.account.token), secondary: false });
      }
      if (point === "after-revoke") {
        // The promote had happened: the admin variable's token was dead, and resume said which it used instead.
        expect((await journalRecords(ws)).map((record) => record.event)).toContain("admin-switched");
        expect(result.warnings.join("\n")).toContain(`env ${ADMIN_VARIABLE} holds the old token`);
      }
    });
  }
});

describe("emergencies", () => {
  async function neverConverges(ws: Workspace): Promise<string> {
    const check = join(ws.dir, "never.sh");
    await writeFile(check, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    return `  - { name: stuck, type: command, command: [${check}] }`;
  }

  it("auth token, --revoke-immediately: the old token is refused before the run ends though a consumer never converges", async () => {
    const ws = await tokenWorkspace(2);
    await ws.write({ consumers: [await neverConverges(ws)], verify: "consumersTimeoutSeconds: 600" });
    const run = await runCli(
      cliArgs(ws, "rotate", "--emergency", "--revoke-immediately", "--reason", "token leaked in a log"),
      {
        env: ws.env,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    ws.secrets.push((await tokenIn(ws.storeFiles[0]!))!);
    expect(await tokenWorks(ws.account.sid, ws.account.token)).toBe(false);
    expect(result.warnings.join("\n")).toMatch(/--revoke-immediately.*stuck/);
    expect(result.consumers).toEqual([expect.objectContaining({ name: "stuck", convergedAt: null })]);
    expect(
      (await journalRecords(ws)).filter((record) => record.event === "run-started").map((record) => record.reason),
    ).toContain("token leaked in a log");
  });

  it("API key, --revoke-immediately: the old key is deleted though a consumer never converges, which the result names", async () => {
    const ws = await e2e.workspace(2);
    await ws.writeConfig(`consumers:\n${await neverConverges(ws)}\n`);
    const run = await runCli(cliArgs(ws, "rotate", "--emergency", "--revoke-immediately"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    expect(e2e.emulator.keys().map((k) => k.sid)).not.toContain(ws.seeded.sid);
    expect(result.warnings.join("\n")).toMatch(/stuck/);
  });

  it("--reason and --revoke-immediately without --emergency are refused (exit 2)", async () => {
    const ws = await tokenWorkspace(1);
    const run = await runCli(cliArgs(ws, "rotate", "--revoke-immediately"), { env: ws.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("go with --emergency");
    expect(tokensOf(ws.account.sid).secondary).toBe(false);
  });

  it("auth token already dead (Twilio reset it after suspicious activity): --emergency with the new admin token replaces it", async () => {
    const ws = await tokenWorkspace(2);
    const reset = e2e.emulator.rotatePrimaryToken(ws.account.sid);
    ws.secrets.push(reset);
    const env = { ...ws.env, [ADMIN_VARIABLE]: reset };
    const refused = await runCli(cliArgs(ws, "plan"), { env });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).problems.join("\n")).toContain("which Twilio no longer accepts");
    const run = await runCli(cliArgs(ws, "rotate", "--emergency"), { env });
    expect(run.code, run.stderr).toBe(0);
    const token = (await tokenIn(ws.storeFiles[0]!))!;
    ws.secrets.push(token);
    expect(await tokenIn(ws.storeFiles[1]!)).toBe(token);
    expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: false });
    expect(await tokenWorks(ws.account.sid, token)).toBe(true);
  });

  it("API key already deleted: --emergency replaces it, nothing to revoke", async () => {
    const ws = await e2e.workspace(2);
    const admin = createTwilioClient({
      accountSid: e2e.emulator.accountSid,
      username: e2e.emulator.accountSid,
      password: e2e.emulator.authToken,
      baseUrl: e2e.emulator.baseUrl,
    });
    await admin.api.v2010.accounts(e2e.emulator.accountSid).keys(ws.seeded.sid).remove();
    const run = await runCli(cliArgs(ws, "rotate", "--emergency"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const key = await readStoreKey(ws.storeFiles[0]!);
    ws.secrets.push(key.secret!);
    expect(key.sid).not.toBe(ws.seeded.sid);
    // The dead key is gone already: nothing was revoked.
    expect(JSON.parse(run.stdout).oldKey).toBeNull();
    expect((await journalRecords(ws)).map((record) => record.event)).not.toContain("revoke-started");
  });
});

describe("rotator sync", () => {
  it("after a promote behind rotator's back: every store gets the supplied token, consumers converge, nothing issued or revoked", async () => {
    const ws = await tokenWorkspace(2);
    const consumers = await Promise.all([
      fleet.start("sync-web", { name: "app-1", type: "dotenv-file", path: ws.storeFiles[0] }, ws.env, {
        kind: "auth-token",
      }),
      fleet.start("sync-worker", { name: "app-2", type: "dotenv-file", path: ws.storeFiles[1] }, ws.env, {
        kind: "auth-token",
      }),
    ]);
    // An operator rotates in the Console (through the API): the stores' token is dead now.
    const promoted = e2e.emulator.createSecondaryToken(ws.account.sid);
    e2e.emulator.promote(ws.account.sid);
    ws.secrets.push(promoted);
    await ws.write({ consumers: consumers.map((c) => c.yaml()), verify: "consumersTimeoutSeconds: 20" });
    const env = { ...ws.env, [ADMIN_VARIABLE]: promoted, NEW_TWILIO_AUTH_TOKEN: promoted };
    const tokensBefore = tokensOf(ws.account.sid);
    const keysBefore = e2e.emulator.keys().map((k) => k.sid);
    const run = await runCli(cliArgs(ws, "sync", "--from-env", "NEW_TWILIO_AUTH_TOKEN"), { env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.command).toBe("sync");
    for (const file of ws.storeFiles) expect(await tokenIn(file)).toBe(promoted);
    expect(result.consumers.map((c: { state: string }) => c.state)).toEqual(["converged", "converged"]);
    // Nothing issued, nothing revoked: Twilio's tokens and keys are as they were.
    expect(tokensOf(ws.account.sid)).toEqual(tokensBefore);
    expect(tokensBefore).toEqual({ primary: fingerprint(promoted), secondary: false });
    expect(e2e.emulator.keys().map((k) => k.sid)).toEqual(keysBefore);
    const journal = (await events(ws)).map((e) => e.event);
    expect(journal).toContain("credential-supplied");
    expect(journal).not.toContain("issue-started");
    expect(journal).not.toContain("revoke-started");
    // Converged means each app reads the supplied token; its next successful call uses it (the call loop may
    // still be waiting out the retry of a call it made with the dead token, so poll rather than read once).
    for (const consumer of consumers) {
      await expect
        .poll(async () => (await consumer.stats()).keys.at(-1), { timeout: 10_000 })
        .toBe(fingerprint(promoted));
    }
    await Promise.all(consumers.map((c) => c.stop()));
  });

  it("a supplied token Twilio refuses changes nothing (exit 2)", async () => {
    const ws = await tokenWorkspace(1);
    const before = await readFile(ws.storeFiles[0]!, "utf8");
    const run = await runCli(cliArgs(ws, "sync", "--from-env", "WRONG"), { env: { ...ws.env, WRONG: "0".repeat(32) } });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatch(/does not authenticate with Twilio, so no store was changed/);
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(before);
  });

  it("--from-store makes every store match one of them, even when they drifted apart", async () => {
    const ws = await tokenWorkspace(2);
    const promoted = e2e.emulator.createSecondaryToken(ws.account.sid);
    e2e.emulator.promote(ws.account.sid);
    ws.secrets.push(promoted);
    await writeFile(ws.storeFiles[0]!, `TWILIO_ACCOUNT_SID=${ws.account.sid}\nTWILIO_AUTH_TOKEN=${promoted}\n`, {
      mode: 0o600,
    });
    const env = { ...ws.env, [ADMIN_VARIABLE]: promoted };
    const drifted = await runCli(cliArgs(ws, "plan"), { env });
    expect(JSON.parse(drifted.stdout).problems.join("\n")).toContain("drift");
    const run = await runCli(cliArgs(ws, "sync", "--from-store", "app-1"), { env });
    expect(run.code, run.stderr).toBe(0);
    expect(await tokenIn(ws.storeFiles[1]!)).toBe(promoted);
  });
});

describe("the token's own conditions", () => {
  it("a secondary someone else made is never replaced or deleted: the refused create stops the run, naming what to do", async () => {
    // Twilio does not document a create while a secondary exists; with the emulator refusing it, rotator must
    // stop and leave that secondary alone.
    const { startTwilioEmulator } = await import("../../src/emulator/index.js");
    const strict = await startTwilioEmulator({
      port: 0,
      behaviour: { secondaryTokenWhenExists: "reject" },
      onSecretIssued: (secret) => e2e.issuedSecrets.add(secret),
    });
    try {
      const ws = await tokenWorkspace(1);
      const [sub] = strict.createSubaccounts(1);
      const account = { sid: sub!.sid, token: sub!.authToken };
      await writeFile(ws.storeFiles[0]!, `TWILIO_ACCOUNT_SID=${account.sid}\nTWILIO_AUTH_TOKEN=${account.token}\n`, {
        mode: 0o600,
      });
      await writeFile(
        ws.configPath,
        (await readFile(ws.configPath, "utf8"))
          .replaceAll(ws.account.sid, account.sid)
          .replace(e2e.emulator.baseUrl, strict.baseUrl),
      );
      const theirs = strict.createSecondaryToken(account.sid);
      const run = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, [ADMIN_VARIABLE]: account.token } });
      expect(run.code, run.stderr).toBe(3);
      const result = JSON.parse(run.stdout);
      expect(result.error).toMatch(/refused to create a secondary Auth Token .* Most likely one exists already/);
      expect(result.error).toContain("Console > Account > API keys & tokens");
      // Their secondary is still there and still works; the primary and the store are untouched.
      const snapshot = strict.snapshot().accounts.find((a) => a.sid === account.sid)!;
      expect(snapshot.secondaryAuthToken?.fingerprint).toBe(`sha256:${fingerprint(theirs)}`);
      expect(snapshot.authToken.fingerprint).toBe(`sha256:${fingerprint(account.token)}`);
      expect(await tokenIn(ws.storeFiles[0]!)).toBe(account.token);
      expect((await journalRecords(ws)).map((record) => record.event)).toContain("issue-refused");
      expect((await journalRecords(ws)).map((record) => record.event)).not.toContain("token-discarded");
    } finally {
      await strict.close();
    }
  });

  it("the token's age comes from the journal: unknown at first, then --if-due knows it is not due", async () => {
    const ws = await tokenWorkspace(1);
    const before = JSON.parse((await runCli(cliArgs(ws, "status"), { env: ws.env })).stdout);
    expect(before.ageDays).toBeNull();
    expect(before.ageUnknownBecause).toContain("Twilio does not say when a token was made");
    const first = await runCli(cliArgs(ws, "rotate", "--if-due"), { env: ws.env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("age unknown (not journaled); rotating now starts its clock");
    const token = (await tokenIn(ws.storeFiles[0]!))!;
    ws.secrets.push(token);
    const env = { ...ws.env, [ADMIN_VARIABLE]: token };
    const after = JSON.parse((await runCli(cliArgs(ws, "status"), { env })).stdout);
    expect(after).toMatchObject({ ageDays: 0, due: false });
    const second = await runCli(cliArgs(ws, "rotate", "--if-due"), { env });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).status).toBe("not-due");
    expect(await tokenIn(ws.storeFiles[0]!)).toBe(token);
  });

  it("admin { fromStore }: the next run reads the current token from the store, with no environment to update", async () => {
    const ws = await tokenWorkspace(2);
    await ws.write();
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        `admin: { authToken: { env: ${ADMIN_VARIABLE} } }`,
        "admin: { authToken: { fromStore: app-1 } }",
      ),
    );
    const env = { ...ws.env, [ADMIN_VARIABLE]: undefined };
    for (let run = 1; run <= 2; run++) {
      const rotated = await runCli(cliArgs(ws, "rotate"), { env });
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(JSON.parse(rotated.stdout).warnings.join("\n")).not.toContain("holds the old token");
      ws.secrets.push((await tokenIn(ws.storeFiles[0]!))!);
    }
    const token = (await tokenIn(ws.storeFiles[0]!))!;
    expect(tokensOf(ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: false });
  });

  it("promoteSettleSeconds is waited between the promote and the check that the old token is refused", async () => {
    const ws = await tokenWorkspace(1);
    await ws.write();
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "credential: { type: auth-token, webhookSigningLagSeconds: 0 }",
        "credential: { type: auth-token, webhookSigningLagSeconds: 0, promoteSettleSeconds: 1 }",
      ),
    );
    const plan = JSON.parse((await runCli(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    expect(plan.steps.join("\n")).toContain("wait 1 s,");
    expect(plan.notes.join("\n")).toContain("Twilio Functions and Services that hold the Auth Token inline");
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    ws.secrets.push((await tokenIn(ws.storeFiles[0]!))!);
    const journal = await events(ws);
    const started = Date.parse(journal.find((e) => e.event === "revoke-started")!.ts);
    const confirmed = Date.parse(journal.find((e) => e.event === "old-token-revoked")!.ts);
    expect(confirmed - started).toBeGreaterThanOrEqual(900);
    expect(journal.find((e) => e.event === "old-token-revoked")).toMatchObject({ refusedWith20003: true });
  });
});
