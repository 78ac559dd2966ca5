import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { ADMIN_VARIABLE, cliArgs, journalRecords, runCli, useE2e, type Workspace } from "./harness.js";
import { fingerprint, tokensOf, tokenWorks } from "./token-workspace.js";

const e2e = useE2e();

interface TokenWorkspace extends Workspace {
  account: { sid: string; token: string };
  /** Rewrite the config: `admin` as YAML flow (default the env variable), lines appended at the end. */
  write(options?: { admin?: string; extra?: string[] }): Promise<void>;
}

/** A subaccount of its own (of `emulator`), its primary token in `count` dotenv files, a config rotating it. */
async function tokenWorkspace(count = 2, emulator: TwilioEmulator = e2e.emulator): Promise<TokenWorkspace> {
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: "review-" });
  const account = { sid: sub!.sid, token: sub!.authToken };
  const dir = await mkdtemp(join(tmpdir(), "rotator-review-"));
  const storeFiles: string[] = [];
  for (let i = 1; i <= count; i++) {
    const file = join(dir, `app-${i}.env`);
    await writeFile(file, `TWILIO_ACCOUNT_SID=${account.sid}\nTWILIO_AUTH_TOKEN=${account.token}\n`, { mode: 0o600 });
    storeFiles.push(file);
  }
  const ws = {
    dir,
    configPath: join(dir, "rotator.yaml"),
    stateDir: join(dir, "state"),
    env: { ...process.env, [ADMIN_VARIABLE]: account.token, ROTATOR_FAILPOINT: undefined },
    seeded: { sid: account.sid, secret: account.token },
    storeFiles,
    secrets: [account.token],
    twilio: { accountSid: account.sid, baseUrl: emulator.baseUrl },
    account,
    async writeConfig() {
      await ws.write();
    },
    async write(options: { admin?: string; extra?: string[] } = {}) {
      await writeFile(
        ws.configPath,
        [
          "version: 1",
          `twilio: { accountSid: ${account.sid}, admin: { authToken: ${options.admin ?? `{ env: ${ADMIN_VARIABLE} }`} }, baseUrl: "${emulator.baseUrl}" }`,
          "credential: { type: auth-token, webhookSigningLagSeconds: 0 }",
          "stores:",
          ...storeFiles.map((file, i) => `  - { name: app-${i + 1}, type: dotenv-file, path: ${file} }`),
          "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersPollSeconds: 0.2 }",
          ...(options.extra ?? []),
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

async function putToken(ws: TokenWorkspace, token: string): Promise<void> {
  for (const file of ws.storeFiles) {
    await writeFile(file, `TWILIO_ACCOUNT_SID=${ws.account.sid}\nTWILIO_AUTH_TOKEN=${token}\n`, { mode: 0o600 });
  }
}

/** A second emulator that refuses a create while a secondary exists (Twilio does not document which it does). */
async function strictEmulator(): Promise<TwilioEmulator> {
  return startTwilioEmulator({
    port: 0,
    behaviour: { secondaryTokenWhenExists: "reject" },
    onSecretIssued: (secret) => e2e.issuedSecrets.add(secret),
  });
}

describe("stores that hold the account's secondary token, not its primary", () => {
  it("plan and rotate --emergency refuse, saying so: creating a secondary would kill the token every store holds", async () => {
    const ws = await tokenWorkspace(2);
    // An operator made a secondary in the Console and put it in every store, meaning to promote it later.
    const secondary = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(secondary);
    await putToken(ws, secondary);

    const plan = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(plan.code, plan.stderr).toBe(2);
    const problems = JSON.parse(plan.stdout).problems.join("\n");
    expect(problems).toContain("secondary");
    // The token works: saying consumers already fail with 20003 would be false.
    expect(problems).not.toContain("already failing");

    const rotate = await runCli(cliArgs(ws, "rotate", "--emergency"), { env: ws.env });
    expect(rotate.code, rotate.stderr).toBe(2);
    expect(JSON.parse(rotate.stdout).error).toContain("secondary");
    // Nothing was created or promoted: the stores' token is still the secondary, and still works.
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({
      primary: fingerprint(ws.account.token),
      secondary: fingerprint(secondary),
    });
    expect(await tokenWorks(e2e.emulator, ws.account.sid, secondary)).toBe(true);
    for (const file of ws.storeFiles) expect(await tokenIn(file)).toBe(secondary);
  });

  it("sync of the secondary says it is the secondary, to be promoted before anything creates another", async () => {
    const ws = await tokenWorkspace(1);
    const secondary = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(secondary);
    const run = await runCli(cliArgs(ws, "sync", "--from-env", "SUPPLIED"), {
      env: { ...ws.env, SUPPLIED: secondary },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(await tokenIn(ws.storeFiles[0]!)).toBe(secondary);
    expect(JSON.parse(run.stdout).warnings.join("\n")).toMatch(/secondary.*promote/i);
  });
});

describe("a create that fails while a secondary exists", () => {
  it("answered 503 every time: nothing was created, so someone else's secondary is not deleted", async () => {
    const ws = await tokenWorkspace(1);
    const theirs = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(theirs);
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
    expect(tokensOf(e2e.emulator, ws.account.sid).secondary).toBe(fingerprint(theirs));
    expect((await journalRecords(ws)).map((record) => record.event)).not.toContain("token-discarded");
    expect(await tokenIn(ws.storeFiles[0]!)).toBe(ws.account.token);
  });

  it("its answer lost, then refused because that secondary exists: it is this run's own, deleted and made again", async () => {
    const strict = await strictEmulator();
    try {
      const ws = await tokenWorkspace(2, strict);
      strict.faults.add({ kind: "lost-response", method: "POST", path: "/v1/AuthTokens/Secondary", times: 1 });
      const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
      expect(run.code, run.stderr).toBe(0);
      const token = (await tokenIn(ws.storeFiles[0]!))!;
      ws.secrets.push(token);
      expect(await tokenIn(ws.storeFiles[1]!)).toBe(token);
      expect(tokensOf(strict, ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: null });
    } finally {
      await strict.close();
    }
  });
});

describe("resume after a crash between creating the secondary and journaling it", () => {
  it("the secondary it deletes may not be its own (Twilio cannot tell): the result says so, in token words", async () => {
    const ws = await tokenWorkspace(2);
    const killed = await runCli(cliArgs(ws, "rotate"), { env: { ...ws.env, ROTATOR_FAILPOINT: "after-create" } });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    // Someone makes a secondary before the resume (which replaces the crashed run's).
    ws.secrets.push(e2e.emulator.createSecondaryToken(ws.account.sid));
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(3);
    const result = JSON.parse(resumed.stdout);
    expect(result.warnings.join("\n")).toMatch(/secondary.*never recorded.*theirs/s);
    expect(`${resumed.stderr}${result.error}`).not.toMatch(/\bkey\b/);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(ws.account.token), secondary: null });
  });
});

describe("admin { fromStore } after a crash", () => {
  it("a store that already holds the new token is a working admin: no warning that it was promoted away", async () => {
    const ws = await tokenWorkspace(2);
    await ws.write({ admin: "{ fromStore: app-1 }" });
    const env = { ...ws.env, [ADMIN_VARIABLE]: undefined };
    const killed = await runCli(cliArgs(ws, "rotate"), { env: { ...env, ROTATOR_FAILPOINT: "after-write:app-1" } });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const resumed = await runCli(cliArgs(ws, "resume"), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const token = (await tokenIn(ws.storeFiles[0]!))!;
    ws.secrets.push(token);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: null });
    expect(JSON.parse(resumed.stdout).warnings.join("\n")).not.toContain("no longer works");
    expect((await journalRecords(ws)).map((record) => record.event)).not.toContain("admin-switched");
  });
});
