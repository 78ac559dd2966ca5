/**
 * Fleets (issue #12) end to end, through the CLI against the Twilio emulator. A parent account with more
 * subaccounts than one page of Twilio's list; groups of customers among them, each with a dotenv store
 * templated per account, rotated through the parent's Auth Token, each account its own unit:
 * - discovery (FriendlyName pattern + status, past the first page): plan shows the fleet and changes
 *   nothing; rotate with one account's consumer stuck and another's store broken: only those two fail;
 *   `status` shows every account; `resume` finishes the stuck one;
 * - a list of accounts, printed for people: progress (done / failed / remaining, ETA) on stderr, a summary
 *   table on stdout;
 * - kill -9 of a fleet run mid-way, then `resume`: every account consistent, none rotated twice;
 * - an emulator limited to a few requests per second: 429s, the concurrency adapts, no account fails;
 * - a template's unknown placeholder: exit 2 naming it and the config file, nothing changed.
 * Every output and every journal is scanned for every secret the emulators issued.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import type { StatusResult } from "../../src/commands/status/run.js";
import type { FleetResult } from "../../src/fleet/run.js";
import { createTwilioClient, keyAuthenticates } from "../../src/twilio/client.js";
import { maskSid } from "../../src/util/mask.js";
import { freshDatabase } from "../harness/postgres.js";
import {
  ADMIN_VARIABLE,
  ensureBuilt,
  readStoreKey,
  root,
  runCli,
  runJson,
  secretLeaks,
  startTwilioEmulator,
  type TwilioEmulator,
  transcript,
  until,
} from "./harness.js";

let emulator: TwilioEmulator;
const issued = new Set<string>();
let dir: string;
let env: Record<string, string | undefined>;

interface Customer {
  sid: string;
  friendlyName: string;
  seed: string;
  seedSecret: string;
}

/** Subaccounts named `<prefix><n>`, each with a seeded key (made by the parent over the API) in its own dotenv file. */
async function seedCustomers(on: TwilioEmulator, prefix: string, count: number, overHttp = true): Promise<Customer[]> {
  const parent = createTwilioClient({
    accountSid: on.accountSid,
    username: on.accountSid,
    password: on.authToken,
    baseUrl: on.baseUrl,
  });
  const customers: Customer[] = [];
  for (const sub of on.createSubaccounts(count, { friendlyNamePrefix: prefix })) {
    // Over HTTP the key's secret reaches onSecretIssued too; without, a rate-limited emulator's budget is kept for the run.
    const key = overHttp
      ? await parent.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "seed" })
      : on.createStandardKey(sub.sid, { friendlyName: "seed" });
    await writeFile(
      join(dir, `${sub.sid}.env`),
      `TWILIO_ACCOUNT_SID=${sub.sid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
      { mode: 0o600 },
    );
    customers.push({ sid: sub.sid, friendlyName: sub.friendlyName, seed: key.sid, seedSecret: key.secret });
  }
  return customers;
}

function fleetConfig(on: TwilioEmulator, accounts: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    version: 1,
    twilio: { accountSid: on.accountSid, admin: { authToken: { env: ADMIN_VARIABLE } }, baseUrl: on.baseUrl },
    accounts,
    credential: { type: "api-key", friendlyNamePrefix: "fleet" },
    stores: [{ name: "app", type: "dotenv-file", path: join(dir, "{accountSid}.env") }],
    consumers: [{ name: "app", type: "command", command: [join(dir, "check.sh"), "{friendlyName}", "{accountSid}"] }],
    verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 2, consumersPollSeconds: 0.2 },
    ...extra,
  };
}

/** A config file and a state directory of its own. */
interface Setup {
  config: string;
  state: string;
}

async function setup(name: string, config: Record<string, unknown>): Promise<Setup> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, stringify(config));
  return { config: file, state: join(dir, `state-${name}`) };
}

const args = (s: Setup, command: string, ...rest: string[]) => [
  command,
  "--config",
  s.config,
  "--state-dir",
  s.state,
  "--json",
  ...rest,
];

/** Every file under every state directory of this test, for the secret scan. */
async function stateTexts(): Promise<string[]> {
  const texts: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else texts.push(await readFile(full, "utf8"));
    }
  };
  for (const entry of await readdir(dir)) if (entry.startsWith("state-")) await walk(join(dir, entry));
  return texts;
}

/** Whether Twilio accepts this key of this account now. */
const authenticates = (on: TwilioEmulator, accountSid: string, keySid: string, secret: string) =>
  keyAuthenticates({ accountSid, keySid, secret, baseUrl: on.baseUrl });

const keysOf = (on: TwilioEmulator, sid: string) => on.keys(sid).map((key) => key.sid);

beforeAll(async () => {
  ensureBuilt();
  emulator = await startTwilioEmulator({ port: 0, subaccountLimit: 2000, onSecretIssued: (s) => issued.add(s) });
  dir = await mkdtemp(join(tmpdir(), "rotator-fleet-"));
  env = { ...process.env, [ADMIN_VARIABLE]: emulator.authToken, ROTATOR_FAILPOINT: undefined };
  // More than one page of 1,000 before the customers, so discovery has to page to find them.
  emulator.createSubaccounts(1100, { friendlyNamePrefix: "other-" });
  // Each account's consumer reports the key in its account's file; while "stuck-<name>" exists, that one keeps
  // reporting its old key (the seed) whatever the file holds; while "hold-<name>" (holding the seed's SID)
  // exists, it has not switched to any other key yet and says so in "reached-<name>": a run held there, past
  // its store writes, for as long as the test wants.
  await writeFile(
    join(dir, "check.sh"),
    [
      "#!/bin/sh",
      `if [ -e "${dir}/hold-$1" ] && ! grep -qx "$ROTATOR_EXPECTED_KEY_SID" "${dir}/hold-$1"; then touch "${dir}/reached-$1"; exit 1; fi`,
      `if [ -e "${dir}/stuck-$1" ]; then grep -qx "$ROTATOR_EXPECTED_KEY_SID" "${dir}/$2.seed"; exit $?; fi`,
      `grep -qx "TWILIO_API_KEY=$ROTATOR_EXPECTED_KEY_SID" "${dir}/$2.env"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
});

afterAll(async () => {
  if (dir) {
    expect(await secretLeaks(issued, [], await stateTexts())).toEqual([]);
    // The scan is not vacuous: it saw every run's output and the journals.
    expect(transcript.length).toBeGreaterThan(0);
  }
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a fleet discovered by FriendlyName pattern and status", () => {
  let customers: Customer[] = [];
  let fleet: Setup;
  let stuck: Customer;
  let broken: Customer;

  beforeAll(async () => {
    const made = await seedCustomers(emulator, "cust-", 13);
    // The thirteenth is suspended: `status: active` leaves it out.
    emulator.setAccountStatus(made[12]!.sid, "suspended");
    customers = made.slice(0, 12);
    stuck = customers[7]!;
    broken = customers[3]!;
    await writeFile(join(dir, `stuck-${stuck.friendlyName}`), "");
    await writeFile(join(dir, `${stuck.sid}.seed`), `${stuck.seed}\n`);
    fleet = await setup(
      "discover",
      fleetConfig(emulator, { discover: { friendlyName: "cust-*", status: "active" }, concurrency: 4 }),
    );
  });

  it("plan shows the fleet: every discovered account (paging past the first 1,000), and changes nothing", async () => {
    const before = emulator.snapshot();
    const { run, result } = await runJson<FleetResult>(args(fleet, "plan"), { env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.fleet.accounts).toBe(12);
    expect(result.accounts.map((a) => a.friendlyName).sort()).toEqual(customers.map((c) => c.friendlyName).sort());
    expect(result.accounts.map((a) => a.account).sort()).toEqual(customers.map((c) => maskSid(c.sid)).sort());
    for (const account of result.accounts) {
      expect(account).toMatchObject({
        status: "planned",
        exitCode: 0,
        summary: "1 key to create, 1 store to update, 1 key to revoke",
      });
    }
    const human = await runCli(
      args(fleet, "plan").filter((a) => a !== "--json"),
      { env },
    );
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("a fleet of 12 account(s)");
    expect(human.stdout).toContain("… and 7 more");
    // Promise 5: nothing changed, in Twilio, in the stores or in the state directory.
    expect(emulator.snapshot()).toEqual(before);
    for (const c of customers) {
      expect(keysOf(emulator, c.sid)).toEqual([c.seed]);
      expect((await readStoreKey(join(dir, `${c.sid}.env`))).sid).toBe(c.seed);
    }
    expect(existsSync(join(fleet.state, "runs")) ? await readdir(join(fleet.state, "runs")) : []).toEqual([]);
  });

  it("rotates each account as its own unit; a stuck consumer and a broken store fail only their accounts", async () => {
    // The broken account's store is a directory where its file should be: that account cannot even be read.
    const brokenFile = join(dir, `${broken.sid}.env`);
    const brokenText = await readFile(brokenFile, "utf8");
    await unlink(brokenFile);
    await mkdir(brokenFile);
    try {
      const { run, result } = await runJson<FleetResult>(args(fleet, "rotate"), { env });
      // The most pressing of the accounts' exit codes: awaiting consumers (4).
      expect(run.code, run.stderr).toBe(4);
      expect(result.fleet).toMatchObject({ accounts: 12, succeeded: 10, failed: 2, notStarted: 0 });
      expect(result.accounts).toHaveLength(12);
      for (const c of customers) {
        const account = result.accounts.find((a) => a.friendlyName === c.friendlyName)!;
        expect(account.account).toBe(maskSid(c.sid));
        if (c === broken) {
          expect(account.exitCode).not.toBe(0);
          expect(account.error).toContain(brokenFile);
          // Nothing changed for it: its seed is its only key.
          expect(keysOf(emulator, c.sid)).toEqual([c.seed]);
          continue;
        }
        const held = await readStoreKey(join(dir, `${c.sid}.env`));
        expect(held.sid).not.toBe(c.seed);
        expect(account.newKey).toBe(maskSid(held.sid!));
        if (c === stuck) {
          expect(account).toMatchObject({ status: "awaiting-consumers", exitCode: 4 });
          // Promise 1: the stuck account's old key is not revoked; its new key is in its store.
          expect(keysOf(emulator, c.sid).sort()).toEqual([c.seed, held.sid].sort());
        } else {
          expect(account).toMatchObject({ status: "completed", exitCode: 0 });
          expect(keysOf(emulator, c.sid)).toEqual([held.sid]);
          expect(await authenticates(emulator, c.sid, held.sid!, held.secret!)).toBe(true);
          expect(await authenticates(emulator, c.sid, c.seed, c.seedSecret)).toBe(false);
        }
        // Each account has its own journal: a run of its own.
        expect(account.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
      }
      expect(new Set(result.accounts.filter((a) => a.runId).map((a) => a.runId)).size).toBe(11);
      // Progress on stderr: each account that ends gets a line with the counts and an ETA.
      expect(run.stderr).toMatch(
        /\[1\/12\] AC…[0-9a-f]{4} \(cust-\d+\): .*; [01] done, [01] failed, 11 remaining \(\d+ running\), ETA \d/,
      );
      expect(run.stderr).toMatch(/\[12\/12\] .*; 10 done, 2 failed, 0 remaining/);
      // A failed account's line says why, in one line.
      const brokenLine = run.stderr.split("\n").find((line) => line.includes(`(${broken.friendlyName}): failed`));
      expect(brokenLine).toContain(brokenFile);
    } finally {
      await rm(brokenFile, { recursive: true });
      await writeFile(brokenFile, brokenText, { mode: 0o600 });
    }
  });

  it("status shows every account; resume picks up the unfinished one and finishes it", async () => {
    const { run: statusRun, result: before } = await runJson<FleetResult<StatusResult>>(args(fleet, "status"), {
      env,
    });
    expect(statusRun.code, statusRun.stderr).toBe(0);
    expect(before.accounts).toHaveLength(12);
    const stuckStatus = before.accounts.find((a) => a.friendlyName === stuck.friendlyName) as StatusResult;
    expect(stuckStatus.runs.at(-1)).toMatchObject({ command: "rotate", status: "awaiting-consumers" });
    // For monitoring: the fleet's --check is its most pressing account's (12: a run is unfinished).
    const check = await runJson<FleetResult<StatusResult>>(args(fleet, "status", "--check"), { env });
    expect(check.run.code, check.run.stderr).toBe(12);
    const human = await runCli(
      args(fleet, "status").filter((a) => a !== "--json"),
      { env },
    );
    expect(human.stdout).toContain("fleet of 12 account(s):");
    expect(human.stdout).toMatch(/1 with an unfinished run/);
    await unlink(join(dir, `stuck-${stuck.friendlyName}`));
    const { run, result } = await runJson<FleetResult>(args(fleet, "resume"), { env });
    expect(run.code, run.stderr).toBe(0);
    const resumed = result.accounts.filter((a) => a.status === "completed");
    expect(resumed.map((a) => a.friendlyName)).toEqual([stuck.friendlyName]);
    expect(result.accounts.filter((a) => a.status === "nothing-to-resume")).toHaveLength(11);
    for (const c of customers.filter((c) => c !== broken)) {
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      expect(keysOf(emulator, c.sid)).toEqual([held.sid]);
    }
    const again = await runJson<FleetResult>(args(fleet, "resume"), { env });
    expect(again.result.accounts.every((a) => a.status === "nothing-to-resume")).toBe(true);
  });
});

describe("a fleet listed in the config, for people", () => {
  it("rotates the listed accounts: progress with ETA on stderr, a summary table on stdout", async () => {
    const listed = await seedCustomers(emulator, "list-", 3);
    const fleet = await setup("list", fleetConfig(emulator, { list: listed.map((c) => c.sid), concurrency: 2 }));
    const run = await runCli(
      args(fleet, "rotate", "--yes").filter((a) => a !== "--json"),
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /\[1\/3\] .*: completed \(exit 0\), SK…[0-9a-f]{4} -> SK…[0-9a-f]{4}; 1 done, 0 failed, 2 remaining \(\d running\), ETA \d+ s/,
    );
    expect(run.stderr).toMatch(/\[3\/3\] .*; 3 done, 0 failed, 0 remaining \(0 running\)/);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toContain("fleet rotate: 3 account(s) (exit 0)");
    expect(lines[1]).toMatch(/^ {2}account\s+name\s+status\s+exit\s+keys$/);
    for (const c of listed) {
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      // The listed account's FriendlyName comes from the parent's list.
      const row = lines.find((line) => line.includes(maskSid(c.sid)));
      expect(row).toMatch(
        new RegExp(
          `${maskSid(c.sid)}\\s+${c.friendlyName}\\s+completed\\s+0\\s+${maskSid(c.seed)} -> ${maskSid(held.sid!)}`,
        ),
      );
      expect(keysOf(emulator, c.sid)).toEqual([held.sid]);
    }
    expect(run.stdout).toMatch(/3 completed/);
  });
});

describe("kill -9 of a fleet run mid-way", () => {
  it("then resume: every account consistent, each rotated at most once, the unfinished ones finished", async () => {
    const killed = await seedCustomers(emulator, "kill-", 12);
    const fleet = await setup(
      "kill",
      fleetConfig(
        emulator,
        { discover: { friendlyName: "kill-*" }, concurrency: 4 },
        {
          verify: {
            newKeyTimeoutSeconds: 5,
            revokeConfirmSeconds: 2,
            consumersTimeoutSeconds: 10,
            consumersPollSeconds: 0.2,
          },
        },
      ),
    );
    // The kill lands mid-way by construction, however busy the machine: the first five accounts go through,
    // the other seven are held at their consumer once their store is written. Four at a time run, so the
    // kill comes with five done, four held mid-way (unfinished), three not started.
    const held = killed.slice(5);
    for (const c of held) await writeFile(join(dir, `hold-${c.friendlyName}`), `${c.seed}\n`);
    const reached = async () =>
      (await readdir(dir))
        .filter((name) => name.startsWith("reached-kill-"))
        .map((name) => name.slice("reached-".length));
    const child: ChildProcess = spawn(process.execPath, [join(root, "bin", "rotator.js"), ...args(fleet, "rotate")], {
      env: env as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, sig) => resolve(sig)));
    await until(async () => (await reached()).length >= 4 && /; 5 done, 0 failed/.test(stderr), 60_000);
    const inFlight = (await reached()).sort();
    child.kill("SIGKILL");
    const signal = await closed;
    transcript.push(stdout, stderr);
    expect(signal).toBe("SIGKILL");
    for (const c of held) await rm(join(dir, `hold-${c.friendlyName}`));

    const { result: before } = await runJson<FleetResult<StatusResult>>(args(fleet, "status"), { env });
    const unfinishedBefore = before.accounts.filter((a) =>
      (a as StatusResult).runs?.some((r) => r.status === "interrupted" || r.status === "awaiting-consumers"),
    );
    // Exactly the held ones: a short list of names on failure, not the fleet's JSON.
    expect(unfinishedBefore.map((a) => a.friendlyName).sort()).toEqual(inFlight);
    expect(inFlight).toHaveLength(4);

    // One unfinished account is renamed meanwhile: discovery's pattern no longer matches it, resume still finds it.
    const parent = createTwilioClient({
      accountSid: emulator.accountSid,
      username: emulator.accountSid,
      password: emulator.authToken,
      baseUrl: emulator.baseUrl,
    });
    const renamed = killed.find((c) => maskSid(c.sid) === unfinishedBefore[0]?.account)!;
    await parent.api.v2010.accounts(renamed.sid).update({ friendlyName: "renamed-customer" });
    const { run, result } = await runJson<FleetResult>(args(fleet, "resume"), { env });
    await parent.api.v2010.accounts(renamed.sid).update({ friendlyName: renamed.friendlyName });
    expect(result.accounts.find((a) => a.account === maskSid(renamed.sid))?.friendlyName).toBe("renamed-customer");
    // resume picked up every unfinished account, and only those, and ended each: finished, or rolled back
    // (killed before any store held the new key, its secret is lost: the key is discarded, exit 3).
    const picked = result.accounts.filter((a) => a.status !== "nothing-to-resume");
    expect(picked.map((a) => a.account).sort()).toEqual(unfinishedBefore.map((a) => a.account).sort());
    for (const account of picked) expect(["completed", "rolled-back"], run.stderr).toContain(account.status);
    expect(run.code, run.stderr).toBe(picked.some((a) => a.status === "rolled-back") ? 3 : 0);

    const { result: after } = await runJson<FleetResult<StatusResult>>(args(fleet, "status"), { env });
    let rotated = 0;
    for (const c of killed) {
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      // Consistent: the store's key is the account's one and only key, and it authenticates.
      expect(keysOf(emulator, c.sid)).toEqual([held.sid]);
      expect(await authenticates(emulator, c.sid, held.sid!, held.secret!)).toBe(true);
      const account = after.accounts.find((a) => a.account === maskSid(c.sid)) as StatusResult & { account: string };
      expect(account.runs.every((r) => r.status !== "interrupted" && r.status !== "awaiting-consumers")).toBe(true);
      const completed = account.runs.filter((r) => r.status === "completed");
      if (held.sid === c.seed) {
        // Not started, stopped before it changed anything, or rolled back by resume: as it was.
        expect(completed).toHaveLength(0);
      } else {
        // Rotated exactly once: one completed run (rotate, or the resume of it), the old key revoked.
        rotated += 1;
        expect(completed).toHaveLength(1);
        expect(await authenticates(emulator, c.sid, c.seed, c.seedSecret)).toBe(false);
      }
    }
    expect(rotated).toBeGreaterThanOrEqual(5);
  });
});

describe("a fleet larger than a pipe's buffer", () => {
  it("--json prints the whole result over a pipe, every account of the 1,100 in it", async () => {
    // The 1,100 "other-" subaccounts have no store file: status reports the problem for each.
    const fleet = await setup(
      "others",
      fleetConfig(emulator, { discover: { friendlyName: "other-*" }, concurrency: 32 }, { consumers: [] }),
    );
    const { run, result } = await runJson<FleetResult<StatusResult>>(args(fleet, "status"), { env });
    expect(run.stdout.length).toBeGreaterThan(256 * 1024);
    expect(result.fleet.accounts).toBe(1100);
    expect(result.accounts).toHaveLength(1100);
  });
});

describe("rollback over a fleet", () => {
  it("undoes only the accounts with an unfinished run; the others are not touched", async () => {
    const group = await seedCustomers(emulator, "rb-", 3);
    const stuck = group[1]!;
    await writeFile(join(dir, `stuck-${stuck.friendlyName}`), "");
    await writeFile(join(dir, `${stuck.sid}.seed`), `${stuck.seed}\n`);
    const fleet = await setup(
      "rollback",
      fleetConfig(emulator, { discover: { friendlyName: "rb-*" }, concurrency: 3 }),
    );
    const rotated = await runJson<FleetResult>(args(fleet, "rotate"), { env });
    expect(rotated.run.code, rotated.run.stderr).toBe(4);
    const { run, result } = await runJson<FleetResult>(args(fleet, "rollback"), { env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.accounts.map((a) => [a.friendlyName, a.status])).toEqual([[stuck.friendlyName, "rolled-back"]]);
    // The stuck account holds its seed again, the new key discarded; the others keep their rotation.
    expect(await readStoreKey(join(dir, `${stuck.sid}.env`))).toMatchObject({ sid: stuck.seed });
    expect(keysOf(emulator, stuck.sid)).toEqual([stuck.seed]);
    for (const c of group.filter((c) => c !== stuck)) {
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      expect(held.sid).not.toBe(c.seed);
      expect(keysOf(emulator, c.sid)).toEqual([held.sid]);
    }
    await unlink(join(dir, `stuck-${stuck.friendlyName}`));
  });
});

describe("a rate-limited Twilio", () => {
  it("answers 429s with Retry-After: the fleet slows down and every account completes", async () => {
    const limited = await startTwilioEmulator({
      port: 0,
      onSecretIssued: (s) => issued.add(s),
      rateLimit: { requestsPerSecond: 8, scope: "global" },
    });
    try {
      const customers = await seedCustomers(limited, "rl-", 6, false);
      const limitedEnv = { ...env, [ADMIN_VARIABLE]: limited.authToken };
      const fleet = await setup(
        "limited",
        fleetConfig(
          limited,
          { discover: { friendlyName: "rl-*" }, concurrency: 6 },
          {
            consumers: [],
            verify: { newKeyTimeoutSeconds: 30, revokeConfirmSeconds: 30 },
          },
        ),
      );
      limited.resetStats();
      const { run, result } = await runJson<FleetResult>(args(fleet, "rotate"), { env: limitedEnv });
      expect(run.code, run.stderr).toBe(0);
      expect(result.fleet).toMatchObject({ accounts: 6, succeeded: 6, failed: 0 });
      // The emulator answered 429s, the fleet heard them and halved its concurrency at least once.
      expect(limited.stats().rateLimited).toBeGreaterThan(0);
      expect(result.fleet.throttled).toBeGreaterThan(0);
      expect(result.fleet.lowestConcurrency).toBeLessThan(6);
      for (const c of customers) {
        const held = await readStoreKey(join(dir, `${c.sid}.env`));
        expect(held.sid).not.toBe(c.seed);
        expect(limited.keys(c.sid).map((k) => k.sid)).toEqual([held.sid]);
      }
    } finally {
      await limited.close();
    }
  });
});

describe("templates validated at load", () => {
  it("an unknown placeholder is exit 2 naming it and the config file, before anything runs", async () => {
    const config = fleetConfig(emulator, { discover: { friendlyName: "cust-*" } });
    config.stores = [{ name: "app", type: "dotenv-file", path: join(dir, "{acountSid}.env") }];
    const bad = await setup("bad", config);
    const before = emulator.snapshot();
    const run = await runCli(["plan", "--config", bad.config, "--state-dir", bad.state], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(bad.config);
    expect(run.stderr).toContain("stores[0].path: unknown placeholder {acountSid} (did you mean {accountSid}?)");
    const rotate = await runCli(["rotate", "--yes", "--config", bad.config, "--state-dir", bad.state], { env });
    expect(rotate.code).toBe(2);
    expect(emulator.snapshot()).toEqual(before);
  });
});

describe("stores two accounts would share", () => {
  it("a store template naming no placeholder: plan and rotate are exit 2 naming the store and two accounts", async () => {
    await seedCustomers(emulator, "share-", 3);
    const config = fleetConfig(emulator, { discover: { friendlyName: "share-*" } });
    config.stores = [
      { name: "app", type: "dotenv-file", path: join(dir, "{accountSid}.env") },
      { name: "shared", type: "dotenv-file", path: join(dir, "shared.env") },
    ];
    const bad = await setup("shared-store", config);
    const before = emulator.snapshot();
    for (const command of [["plan"], ["rotate", "--yes"]]) {
      const run = await runCli([...command, "--config", bad.config, "--state-dir", bad.state], { env });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(bad.config);
      expect(run.stderr).toMatch(
        /stores\[1\] \(shared\): accounts AC…[0-9a-f]{4} \(share-\d+\) and AC…[0-9a-f]{4} \(share-\d+\) would write the same store; put \{accountSid\}/,
      );
      // Only the shared store is named: the templated one is each account's own.
      expect(run.stderr).not.toContain("stores[0]");
    }
    expect(emulator.snapshot()).toEqual(before);
    expect(existsSync(join(dir, "shared.env"))).toBe(false);
    expect(existsSync(join(bad.state, "runs"))).toBe(false);
  });
});

describe("commands that take one account's config", () => {
  it("doctor --config and watch refuse a fleet config (exit 2), saying what to run instead, and check nothing", async () => {
    const fleet = await setup("one-account-only", fleetConfig(emulator, { discover: { friendlyName: "cust-*" } }));
    const before = emulator.stats().requests;
    const doctor = await runCli(["doctor", "--config", fleet.config, "--state-dir", fleet.state], { env });
    expect(doctor.code, doctor.stderr).toBe(2);
    const doctorText = doctor.stdout + doctor.stderr;
    expect(doctorText).toContain(`${fleet.config} is a fleet config (accounts:)`);
    expect(doctorText).toContain(`rotator status --config ${fleet.config}`);
    // Not a diagnosis of the stand-in account the templates are checked with at load.
    expect(doctorText).not.toContain("AC00000000000000000000000000000000");
    const watch = await runCli(["watch", "--once", "--config", fleet.config, "--state-dir", fleet.state], { env });
    expect(watch.code, watch.stderr).toBe(2);
    expect(watch.stderr).toContain(`${fleet.config} is a fleet config (accounts:)`);
    expect(watch.stderr).toContain(`rotator status --check --config ${fleet.config}`);
    expect(emulator.stats().requests).toBe(before);
    expect(existsSync(fleet.state)).toBe(false);
  });
});

describe("two schedulers running one fleet on shared PostgreSQL state", () => {
  it("race rotate --if-due from two state directories: each account rotated exactly once, by one of them", async () => {
    // Keys seeded "91 days ago" (the emulator's clock), so every account is due for its 90-day rotation.
    let offsetMs = 91 * 86_400_000;
    const aged = await startTwilioEmulator({
      port: 0,
      clock: () => Date.now() - offsetMs,
      onSecretIssued: (secret) => issued.add(secret),
    });
    const db = await freshDatabase(inject("servers"), "fleet");
    try {
      const customers = await seedCustomers(aged, "sched-", 6);
      offsetMs = 0;
      const config = fleetConfig(
        aged,
        { discover: { friendlyName: "sched-*" }, concurrency: 3 },
        {
          credential: { type: "api-key", friendlyNamePrefix: "fleet", maxAgeDays: 90 },
          state: { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: 10 },
        },
      );
      const hostA = await setup("sched-a", config);
      const hostB = { config: hostA.config, state: join(dir, "state-sched-b") };
      const sharedEnv = { ...env, [ADMIN_VARIABLE]: aged.authToken, DATABASE_URL: db.url };
      const [a, b] = await Promise.all(
        [hostA, hostB].map((host) =>
          runJson<FleetResult>(args(host, "rotate", "--if-due", "--yes"), { env: sharedEnv }),
        ),
      );
      for (const { run } of [a!, b!]) expect([0, 5], run.stderr).toContain(run.code);

      for (const c of customers) {
        const outcomes = [a!, b!].map(({ result }) => result.accounts.find((x) => x.friendlyName === c.friendlyName));
        // Exactly one of the two rotated it; the other found it locked (exit 5) or no longer due.
        expect(
          outcomes.filter((o) => o?.status === "completed"),
          JSON.stringify(outcomes),
        ).toHaveLength(1);
        for (const other of outcomes.filter((o) => o !== undefined && o.status !== "completed")) {
          expect(other!.status === "not-due" || other!.exitCode === 5, JSON.stringify(other)).toBe(true);
        }
        const held = await readStoreKey(join(dir, `${c.sid}.env`));
        expect(aged.keys(c.sid).map((key) => key.sid)).toEqual([held.sid]);
        expect(await authenticates(aged, c.sid, held.sid!, held.secret!)).toBe(true);
        expect(await authenticates(aged, c.sid, c.seed, c.seedSecret)).toBe(false);
      }

      // The database holds one journal per rotated account, whichever host ran it, and one issued key each.
      const rows = await db.query<{ run_id: string; text: string }>(
        "SELECT run_id, record::text AS text FROM rotator_journal ORDER BY run_id, seq",
      );
      const byRun = new Map<string, Array<Record<string, unknown>>>();
      for (const row of rows.rows) byRun.set(row.run_id, [...(byRun.get(row.run_id) ?? []), JSON.parse(row.text)]);
      const issuedPerAccount = new Map<string, number>();
      for (const records of byRun.values()) {
        const account = records.find((r) => r.event === "run-started")?.accountSid as string | undefined;
        if (account !== undefined && records.some((r) => r.event === "key-issued")) {
          issuedPerAccount.set(account, (issuedPerAccount.get(account) ?? 0) + 1);
        }
      }
      expect(Object.fromEntries(issuedPerAccount)).toEqual(Object.fromEntries(customers.map((c) => [c.sid, 1])));
      expect(await secretLeaks(issued, [], [...rows.rows.map((row) => row.text), ...transcript])).toEqual([]);
      expect(transcript.some((text) => text.includes(db.password))).toBe(false);

      // Either host's status sees every account's run, though half of them ran on the other.
      const { result: status } = await runJson<FleetResult<StatusResult>>(args(hostB, "status"), { env: sharedEnv });
      expect(status.accounts).toHaveLength(customers.length);
    } finally {
      await db.drop();
      await aged.close();
    }
  });
});
