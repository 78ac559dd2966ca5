/**
 * The commands that change stores behave alike (issue #21, point 2), through the CLI: sync, resume and
 * rollback ask on a terminal as rotate does (a no is a cancellation, exit 8, nothing changed; --yes and a run
 * without a terminal never ask; Ctrl-C at the question is a no), sync notifies as rotate does and its result
 * has rotate's shape; a fleet asks once; doctor finds its config as every command does, and names the run
 * that revoked a key from the state directory's journals with no config; a credential's age is worded from
 * what the journals know. Every output, journal and notification is scanned for the secrets made here.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_VARIABLE,
  adminClient,
  cliArgs,
  envText,
  readStoreKey,
  runCli,
  runInProcess,
  runJson,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";
import { type Receiver, startReceiver } from "./notify-receiver.js";

const e2e = useE2e();
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const CANCELLED = "cancelled: you did not confirm, so nothing was changed (exit 8)";

/** A key made in Twilio by hand (not by rotator), to sync; its secret joins the workspace's for the scan. */
async function handMadeKey(ws: Workspace): Promise<{ sid: string; secret: string }> {
  const key = await adminClient(e2e.emulator)
    .api.v2010.accounts(e2e.emulator.accountSid)
    .newKeys.create({ friendlyName: "by hand" });
  ws.secrets.push(key.secret);
  return { sid: key.sid, secret: key.secret };
}

const storeKeys = (ws: Workspace) => Promise.all(ws.storeFiles.map(async (file) => (await readStoreKey(file)).sid));

async function runFiles(ws: Workspace): Promise<string[]> {
  const dir = join(ws.stateDir, "runs");
  return existsSync(dir) ? await readdir(dir) : [];
}

/** `sync --from-env NEW_SECRET --key-sid SID` with the workspace's config and state, as an operator types it. */
function syncArgs(ws: Workspace, key: { sid: string }, ...rest: string[]): string[] {
  return [
    "sync",
    "--config",
    ws.configPath,
    "--state-dir",
    ws.stateDir,
    "--from-env",
    "NEW_SECRET",
    "--key-sid",
    key.sid,
    ...rest,
  ];
}

describe("sync behaves as rotate does", () => {
  it("on a terminal it says what it will write and asks; a no is a cancellation: exit 8, nothing written or notified", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { notify: [{ type: "webhook", url: `${receiver.url}/sync-no` }] });
    const key = await handMadeKey(ws);
    const before = await Promise.all(ws.storeFiles.map((file) => readFile(file, "utf8")));

    const run = await runInProcess(syncArgs(ws, key), {
      env: { ...ws.env, NEW_SECRET: key.secret },
      tty: true,
      answer: "n",
    });
    expect(run.code, run.stderr).toBe(8);
    expect(run.stderr).toContain("sync will:");
    expect(run.stderr).toContain(
      `write the key from env NEW_SECRET, SK…${key.sid.slice(-4)}, to every store (app-1, app-2), all-or-nothing`,
    );
    expect(run.stderr).toContain("Go ahead? [y/N]");
    expect(run.stderr).toContain(CANCELLED);
    expect(stripVTControlCharacters(run.stderr)).toContain(
      "next: run the command again and answer y to go ahead (or pass --yes)",
    );
    // A cancellation, not an error.
    expect(run.stderr + run.stdout).not.toMatch(/error|✗/);
    expect(await Promise.all(ws.storeFiles.map((file) => readFile(file, "utf8")))).toEqual(before);
    expect(await runFiles(ws)).toEqual([]);
    expect(receiver.events("/sync-no")).toEqual([]);

    // Ctrl-C at the question (a key to a terminal in raw mode, not a signal) is a no, not a wait for ever.
    const interrupted = await runInProcess(syncArgs(ws, key), {
      env: { ...ws.env, NEW_SECRET: key.secret },
      tty: true,
      answer: "\u0003",
    });
    expect(interrupted.code, interrupted.stderr).toBe(8);
    expect(interrupted.stderr).toContain(CANCELLED);
    expect(await Promise.all(ws.storeFiles.map((file) => readFile(file, "utf8")))).toEqual(before);
  });

  it("a yes writes every store and notifies; --yes on a terminal and a run without one never ask", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { notify: [{ type: "webhook", url: `${receiver.url}/sync-yes` }] });

    const first = await handMadeKey(ws);
    const yes = await runInProcess(syncArgs(ws, first), {
      env: { ...ws.env, NEW_SECRET: first.secret },
      tty: true,
      answer: "y",
    });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stderr).toContain("[y/N]");
    expect(await storeKeys(ws)).toEqual([first.sid, first.sid]);

    const second = await handMadeKey(ws);
    const flagged = await runInProcess(syncArgs(ws, second, "--yes"), {
      env: { ...ws.env, NEW_SECRET: second.secret },
      tty: true,
    });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(flagged.stderr).not.toContain("[y/N]");
    expect(await storeKeys(ws)).toEqual([second.sid, second.sid]);

    const third = await handMadeKey(ws);
    const piped = await runCli(syncArgs(ws, third), { env: { ...ws.env, NEW_SECRET: third.secret } });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).not.toContain("[y/N]");
    expect(await storeKeys(ws)).toEqual([third.sid, third.sid]);

    // Notified as rotate's runs are: one "completed" per sync.
    expect(receiver.events("/sync-yes")).toEqual(["completed", "completed", "completed"]);
    const details = receiver.received.filter((r) => r.path === "/sync-yes").map((r) => r.json.details.command);
    expect(details).toEqual(["sync", "sync", "sync"]);
  });

  it("sync's result has rotate's shape, in --json and in text", async () => {
    const ws = await e2e.workspace(2);
    const rotated = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const key = await handMadeKey(ws);
    const synced = await runJson(cliArgs(ws, "sync", "--from-env", "NEW_SECRET", "--key-sid", key.sid), {
      env: { ...ws.env, NEW_SECRET: key.secret },
    });
    expect(synced.run.code, synced.run.stderr).toBe(0);
    expect(Object.keys(synced.result).sort()).toEqual(Object.keys(rotated.result).sort());
    expect(synced.result).toMatchObject({ command: "sync", status: "completed", exitCode: 0 });
    expect(synced.result.stores.map((store) => store.name)).toEqual(rotated.result.stores.map((store) => store.name));

    const again = await handMadeKey(ws);
    const text = await runCli(
      [
        "sync",
        "--config",
        ws.configPath,
        "--state-dir",
        ws.stateDir,
        "--from-env",
        "NEW_SECRET",
        "--key-sid",
        again.sid,
      ],
      { env: { ...ws.env, NEW_SECRET: again.secret } },
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^✓ run \S+: completed \(exit 0\)$/m);
    expect(text.stdout).toMatch(/^ {2}store app-1 \(dotenv-file\): /m);
    expect(text.stdout).toMatch(/^ {2}journal: /m);
  });
});

describe("resume and rollback ask on a terminal, as rotate does", () => {
  it("a no leaves the run as it was (exit 8); a yes rolls it back and notifies", async () => {
    const ws = await e2e.workspace(2);
    const notify = [{ type: "webhook", url: `${receiver.url}/reentry` }];
    // A consumer that never reports the new key: the rotation waits for it (exit 4), unfinished.
    await writeConfigFor(ws, {
      notify,
      consumers: [
        {
          name: "stuck",
          type: "command",
          command: ["sh", "-c", `test "$ROTATOR_EXPECTED_KEY_SID" = ${ws.seeded.sid}`],
        },
      ],
      verify: { consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.1 },
    });
    const awaiting = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(awaiting.run.code, awaiting.run.stderr).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const runId = awaiting.result.runId as string;
    const newKeys = await storeKeys(ws);
    const plain = (command: string) => [command, "--config", ws.configPath, "--state-dir", ws.stateDir];

    const keptRollback = await runInProcess(plain("rollback"), { env: ws.env, tty: true, answer: "n" });
    expect(keptRollback.code, keptRollback.stderr).toBe(8);
    expect(keptRollback.stderr).toContain("rollback will:");
    expect(keptRollback.stderr).toContain(`undo run ${runId} (rotate, started `);
    expect(keptRollback.stderr).toContain(CANCELLED);

    const keptResume = await runInProcess(plain("resume"), { env: ws.env, tty: true, answer: "no" });
    expect(keptResume.code, keptResume.stderr).toBe(8);
    expect(keptResume.stderr).toContain("resume will:");
    expect(keptResume.stderr).toContain(`carry on run ${runId} (rotate, started `);
    expect(keptResume.stderr).toContain(CANCELLED);
    expect(keptRollback.stderr + keptResume.stderr).not.toMatch(/error|✗/);

    // Nothing changed: the stores hold the run's new key, the run is still unfinished, no one was notified of it.
    expect(await storeKeys(ws)).toEqual(newKeys);
    const status = await runJson(cliArgs(ws, "status"), { env: ws.env });
    expect(status.result).toMatchObject({ runs: [expect.objectContaining({ runId, status: "awaiting-consumers" })] });
    expect(receiver.events("/reentry")).toEqual(["awaiting-consumers"]);

    const undone = await runInProcess(plain("rollback"), { env: ws.env, tty: true, answer: "y" });
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.stdout).toContain(`run ${runId}: rolled-back (exit 0)`);
    expect(await storeKeys(ws)).toEqual([ws.seeded.sid, ws.seeded.sid]);
    expect(receiver.events("/reentry")).toEqual(["awaiting-consumers", "rolled-back"]);

    // --yes on a terminal never asks (and with nothing left to resume, changes nothing).
    const flagged = await runInProcess([...plain("resume"), "--yes"], { env: ws.env, tty: true });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(flagged.stderr).not.toContain("[y/N]");
  });
});

describe("doctor finds its config and journals as every command does", () => {
  /** The test runner's environment without any TWILIO_* or ROTATOR_* variable. */
  function bareEnv(extra: Record<string, string | undefined>): Record<string, string | undefined> {
    const env: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith("TWILIO_") && !name.startsWith("ROTATOR_")) env[name] = value;
    }
    return { ...env, ...extra };
  }

  it("$ROTATOR_CONFIG, else ./rotator.yaml: the config's stores are checked without --config", async () => {
    const ws = await e2e.workspace(2);
    const admin = { [ADMIN_VARIABLE]: e2e.emulator.authToken, ROTATOR_STATE_DIR: ws.stateDir };
    const checkedStores = (stdout: string) =>
      (JSON.parse(stdout) as { findings: Array<{ check: string; subject: string }> }).findings
        .filter((finding) => finding.check === "authenticates")
        .map((finding) => finding.subject);

    const byVariable = await runInProcess(["doctor", "--json"], {
      env: bareEnv({ ...admin, ROTATOR_CONFIG: ws.configPath }),
    });
    expect(byVariable.code, byVariable.stdout).toBe(0);
    expect(checkedStores(byVariable.stdout)).toEqual([
      expect.stringMatching(/^store "app-1"/),
      expect.stringMatching(/^store "app-2"/),
    ]);

    const byDirectory = await runInProcess(["doctor", "--json"], { env: bareEnv(admin), cwd: ws.dir });
    expect(byDirectory.code, byDirectory.stdout).toBe(0);
    expect(checkedStores(byDirectory.stdout)).toEqual(checkedStores(byVariable.stdout));

    // Asked for the environment's credential, it checks that, not the directory's config.
    const envOnly = await runInProcess(["doctor", "--json", "--env", "--offline"], {
      env: bareEnv({
        ...admin,
        TWILIO_ACCOUNT_SID: ws.twilio.accountSid,
        TWILIO_API_KEY: ws.seeded.sid,
        TWILIO_API_SECRET: ws.seeded.secret,
      }),
      cwd: ws.dir,
    });
    expect(envOnly.stdout).not.toContain('store "app-1"');
    expect(envOnly.stdout).toContain("environment");
  });

  it("with --state-dir alone (or $ROTATOR_STATE_DIR), a revoked key is named with the run that revoked it", async () => {
    const ws = await e2e.workspace(1);
    const rotated = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    // An app's copy that the rotation did not reach: the old, revoked key.
    const stale = join(ws.dir, "forgotten.env");
    await writeFile(stale, envText(ws.twilio.accountSid, ws.seeded.sid, ws.seeded.secret, "forgotten"), {
      mode: 0o600,
    });
    const revokedBy = `was revoked by rotator run ${rotated.result.runId}`;
    const base = ["doctor", "--json", "--dotenv", stale, "--base-url", ws.twilio.baseUrl];
    for (const [args, env] of [
      [[...base, "--state-dir", ws.stateDir], bareEnv({})],
      [base, bareEnv({ ROTATOR_STATE_DIR: ws.stateDir })],
    ] as const) {
      const run = await runInProcess([...args], { env });
      expect(run.code).toBe(2);
      const dead = (
        JSON.parse(run.stdout) as {
          findings: Array<{ check: string; ok: boolean; cause?: string; certainty?: string }>;
        }
      ).findings.find((finding) => finding.check === "authenticates" && !finding.ok);
      expect(dead?.cause, run.stdout).toContain(revokedBy);
      expect(dead?.certainty).toBe("certain");
    }
  });
});

describe("a fleet asks once, and a no cancels every account", () => {
  it("rotate and resume over a fleet on a terminal: a no is exit 8, no account started, no key made", async () => {
    const ws = await e2e.workspace(1);
    const subaccounts = e2e.emulator.createSubaccounts(2, { friendlyNamePrefix: "alike-" });
    for (const sub of subaccounts) {
      const key = e2e.emulator.createStandardKey(sub.sid, { friendlyName: "seed" });
      ws.secrets.push(key.secret, sub.authToken);
      await writeFile(join(ws.dir, `${sub.sid}.env`), envText(sub.sid, key.sid, key.secret, sub.friendlyName), {
        mode: 0o600,
      });
    }
    await writeConfigFor(ws, {
      accounts: { list: subaccounts.map((sub) => sub.sid) },
      stores: [{ name: "app", type: "dotenv-file", path: join(ws.dir, "{accountSid}.env") }],
    });
    const keysBefore = subaccounts.map((sub) => e2e.emulator.keys(sub.sid).length);
    const plain = (command: string) => [command, "--config", ws.configPath, "--state-dir", ws.stateDir];

    const rotate = await runInProcess(plain("rotate"), { env: ws.env, tty: true, answer: "n" });
    expect(rotate.code, rotate.stderr).toBe(8);
    expect(rotate.stderr).toContain("rotate will rotate the API key of 2 account(s), each on its own:");
    expect(rotate.stdout).toContain("fleet rotate: cancelled at the prompt, nothing was changed (exit 8)");
    expect(stripVTControlCharacters(rotate.stdout)).toContain(
      "next: run the command again and answer y to go ahead (or pass --yes)",
    );
    expect(rotate.stdout).not.toContain("`rotator resume`");
    expect(subaccounts.map((sub) => e2e.emulator.keys(sub.sid).length)).toEqual(keysBefore);

    const resume = await runInProcess(plain("resume"), { env: ws.env, tty: true, answer: "n" });
    expect(resume.code, resume.stderr).toBe(8);
    expect(resume.stderr).toContain("resume will finish the runs left unfinished of 2 account(s), each on its own:");
    expect(await runFiles(ws)).toEqual([]);
  });
});

describe("ages are worded from what the journals know", () => {
  it("a key rotator made minutes ago is 'rotated … ago by rotator run R', in rotate's warning and in status", async () => {
    const ws = await e2e.workspace(1);
    const rotated = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const runId = rotated.result.runId as string;
    const byRotator = new RegExp(`rotated (less than a minute|\\d+ minutes?) ago by rotator run ${runId}`);

    const again = await runInProcess(["rotate", "--config", ws.configPath, "--state-dir", ws.stateDir], {
      env: ws.env,
      tty: true,
      answer: "n",
    });
    expect(again.code, again.stderr).toBe(8);
    expect(stripVTControlCharacters(again.stderr)).toMatch(
      new RegExp(`warning: ${rotated.result.newKey} is under a day old: ${byRotator.source}`),
    );
    expect(again.stderr).not.toContain("not by rotator");

    const status = await runCli(["status", "--config", ws.configPath, "--state-dir", ws.stateDir], { env: ws.env });
    expect(status.stdout).toMatch(byRotator);
  });
});
