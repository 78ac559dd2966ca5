/**
 * Fleets (issue #12) end to end: a parent account with more subaccounts than one page of Twilio's list,
 * a dozen of them discovered by a FriendlyName pattern and a status, each rotated as its own unit through
 * the parent's Auth Token, with a dotenv store and a command consumer templated per account. One account's
 * consumer never switches: that account stops awaiting consumers while every other completes; `resume`
 * finishes it. Then plan, status and a template's unknown placeholder.
 */
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { FleetResult } from "../../src/fleet/run.js";
import { createTwilioClient } from "../../src/twilio/client.js";
import {
  ADMIN_VARIABLE,
  ensureBuilt,
  readStoreKey,
  runCli,
  runJson,
  secretLeaks,
  startTwilioEmulator,
  type TwilioEmulator,
} from "./harness.js";

let emulator: TwilioEmulator;
const issued = new Set<string>();
let dir: string;
let env: Record<string, string | undefined>;
const customers: Array<{ sid: string; friendlyName: string; seed: string }> = [];
const stateDir = () => join(dir, "state");
const configPath = () => join(dir, "fleet.yaml");
/** The customer whose consumer never switches (set once the customers exist). */
let STUCK = "";

function fleetConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    twilio: { accountSid: emulator.accountSid, admin: { authToken: { env: ADMIN_VARIABLE } }, baseUrl: emulator.baseUrl },
    accounts: { discover: { friendlyName: "cust-*", status: "active" }, concurrency: 4 },
    credential: { type: "api-key", friendlyNamePrefix: "fleet" },
    stores: [{ name: "app", type: "dotenv-file", path: join(dir, "{accountSid}.env") }],
    consumers: [{ name: "app", type: "command", command: [join(dir, "check.sh"), "{friendlyName}", "{accountSid}"] }],
    verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 2, consumersPollSeconds: 0.2 },
    ...extra,
  };
}

const args = (command: string, ...rest: string[]) => [
  command,
  "--config",
  configPath(),
  "--state-dir",
  stateDir(),
  "--json",
  ...rest,
];

beforeAll(async () => {
  ensureBuilt();
  emulator = await startTwilioEmulator({ port: 0, subaccountLimit: 2000, onSecretIssued: (s) => issued.add(s) });
  dir = await mkdtemp(join(tmpdir(), "rotator-fleet-"));
  env = { ...process.env, [ADMIN_VARIABLE]: emulator.authToken, ROTATOR_FAILPOINT: undefined };
  // More than one page of 1,000 before the customers, so discovery has to page to find them.
  emulator.createSubaccounts(1100, { friendlyNamePrefix: "other-" });
  const parent = createTwilioClient({
    accountSid: emulator.accountSid,
    username: emulator.accountSid,
    password: emulator.authToken,
    baseUrl: emulator.baseUrl,
  });
  const made = emulator.createSubaccounts(13, { friendlyNamePrefix: "cust-" });
  // The thirteenth is suspended: `status: active` leaves it out.
  emulator.setAccountStatus(made[12]!.sid, "suspended");
  for (const sub of made.slice(0, 12)) {
    const key = await parent.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: "seed" });
    await writeFile(
      join(dir, `${sub.sid}.env`),
      `TWILIO_ACCOUNT_SID=${sub.sid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
      { mode: 0o600 },
    );
    customers.push({ sid: sub.sid, friendlyName: sub.friendlyName, seed: key.sid });
  }
  // Each account's consumer reports the key in its account's file; while "stuck-<name>" exists, that one
  // keeps reporting its old key (the seed) whatever the file holds: it never switches.
  await writeFile(
    join(dir, "check.sh"),
    [
      "#!/bin/sh",
      `if [ -e "${dir}/stuck-$1" ]; then grep -qx "$ROTATOR_EXPECTED_KEY_SID" "${dir}/$2.seed"; exit $?; fi`,
      `grep -qx "TWILIO_API_KEY=$ROTATOR_EXPECTED_KEY_SID" "${dir}/$2.env"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const stuck = customers[7]!;
  STUCK = stuck.friendlyName;
  await writeFile(join(dir, `stuck-${STUCK}`), "");
  await writeFile(join(dir, `${stuck.sid}.seed`), `${stuck.seed}\n`);
  await writeFile(configPath(), stringify(fleetConfig()));
});

afterAll(async () => {
  expect(await secretLeaks(issued, [])).toEqual([]);
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const keysOf = (sid: string) => emulator.keys(sid).map((key) => key.sid);

describe("a fleet of subaccounts", () => {
  it("plan shows the fleet: every discovered account (paging past the first 1,000), a summary each", async () => {
    const { run, result } = await runJson<FleetResult>(args("plan"), { env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.fleet.accounts).toBe(12);
    expect(result.accounts.map((a) => a.friendlyName).sort()).toEqual(customers.map((c) => c.friendlyName).sort());
    for (const account of result.accounts) {
      expect(account).toMatchObject({ status: "planned", exitCode: 0, summary: "1 key to create, 1 store to update, 1 key to revoke" });
    }
    const human = await runCli(args("plan").filter((a) => a !== "--json"), { env });
    expect(human.stdout).toContain("a fleet of 12 account(s)");
    expect(human.stdout).toContain("… and 7 more");
    for (const c of customers) expect(keysOf(c.sid)).toEqual([c.seed]);
  });

  it("rotates each account as its own unit; one stuck consumer leaves only its account unfinished", async () => {
    const { run, result } = await runJson<FleetResult>(args("rotate"), { env });
    expect(run.code, run.stderr).toBe(4);
    expect(result.fleet).toMatchObject({ accounts: 12, succeeded: 11, failed: 1, notStarted: 0 });
    expect(result.accounts).toHaveLength(12);
    const stuck = customers.find((c) => c.friendlyName === STUCK)!;
    for (const c of customers) {
      const account = result.accounts.find((a) => a.friendlyName === c.friendlyName)!;
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      expect(held.sid).not.toBe(c.seed);
      if (c === stuck) {
        expect(account.status).toBe("awaiting-consumers");
        // Promise 1: the stuck account's old key is not revoked; its new key is in its store.
        expect(keysOf(c.sid).sort()).toEqual([c.seed, held.sid].sort());
      } else {
        expect(account).toMatchObject({ status: "completed", exitCode: 0 });
        expect(keysOf(c.sid)).toEqual([held.sid]);
      }
      // Each account has its own journal: one run per account.
      expect(account.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    }
    expect(new Set(result.accounts.map((a) => a.runId)).size).toBe(12);
    expect(run.stderr).toMatch(/\[12\/12\] .*; 11 done, 1 failed, 0 remaining/);
  });

  it("status shows every account; resume picks up the unfinished one and finishes it", async () => {
    const { result: before } = await runJson<FleetResult>(args("status"), { env });
    expect(before.accounts).toHaveLength(12);
    await unlink(join(dir, `stuck-${STUCK}`));
    const { run, result } = await runJson<FleetResult>(args("resume"), { env });
    expect(run.code, run.stderr).toBe(0);
    const statuses = result.accounts.map((a) => a.status);
    expect(statuses.filter((s) => s === "completed")).toHaveLength(1);
    expect(statuses.filter((s) => s === "nothing-to-resume")).toHaveLength(11);
    for (const c of customers) {
      const held = await readStoreKey(join(dir, `${c.sid}.env`));
      expect(keysOf(c.sid)).toEqual([held.sid]);
    }
    const again = await runJson<FleetResult>(args("resume"), { env });
    expect(again.result.accounts.every((a) => a.status === "nothing-to-resume")).toBe(true);
  });

  it("an unknown placeholder is bad input naming it, before anything runs", async () => {
    const bad = join(dir, "bad.yaml");
    const config = fleetConfig();
    config.stores = [{ name: "app", type: "dotenv-file", path: join(dir, "{acountSid}.env") }];
    await writeFile(bad, stringify(config));
    const run = await runCli(["plan", "--config", bad, "--state-dir", stateDir()], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("stores[0].path: unknown placeholder {acountSid} (did you mean {accountSid}?)");
  });
});
