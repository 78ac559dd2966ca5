/**
 * Two configs sharing one store, each with a store of its own (issue #17, item 4): X names S and A, Y names S
 * and B, in one state directory, all three holding key K0. Whichever rotates must not revoke K0 while the
 * other's own store holds it, even when the other lost the race for S's lock before journaling anything: a
 * config is recorded before it tries the locks, and the holder check reads the other config's stores under
 * the winner's locks, and again just before the revoke.
 *
 * - 20 races (both started at once, each held after recording its config until both have, then let go
 *   together): 0 stores holding a revoked key, 0 consumers (each reads its config's own store) on one;
 * - X awaiting its consumers when Y tries and is refused: X's resume does not revoke K0 (exit 6, nothing
 *   revoked, the run stays resumable), and its rollback leaves every store on K0.
 */
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  authenticates,
  type CliRun,
  readStoreKey,
  runCli,
  runJson,
  until,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();
const RACES = 20;
/** Races run this many at a time (each is two processes). */
const AT_ONCE = 4;

interface SharedSetup {
  ws: Workspace;
  x: string;
  y: string;
  /** S (shared), A (X's own), B (Y's own). */
  files: { s: string; a: string; b: string };
}

/** A consumer that uses whatever key its store holds (it reads the file at each check). */
async function reader(ws: Workspace, name: string, file: string): Promise<Record<string, unknown>> {
  const script = join(ws.dir, `${name}.sh`);
  await writeFile(script, `#!/bin/sh\ngrep -q "^TWILIO_API_KEY=$ROTATOR_EXPECTED_KEY_SID$" ${file}\n`, { mode: 0o755 });
  return { name, type: "command", command: [script] };
}

async function sharedSetup(extraVerify: Record<string, unknown> = {}): Promise<SharedSetup> {
  const ws = await e2e.workspace(3);
  const [s, a, b] = ws.storeFiles as [string, string, string];
  const verify = {
    verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersPollSeconds: 0.2, ...extraVerify },
  };
  const x = join(ws.dir, "x.yaml");
  const y = join(ws.dir, "y.yaml");
  await writeConfigFor(
    ws,
    {
      stores: [
        { name: "shared", type: "dotenv-file", path: s },
        { name: "x-own", type: "dotenv-file", path: a },
      ],
      consumers: [await reader(ws, "x-app", a)],
      ...verify,
    },
    { file: x },
  );
  await writeConfigFor(
    ws,
    {
      stores: [
        { name: "shared", type: "dotenv-file", path: s },
        { name: "y-own", type: "dotenv-file", path: b },
      ],
      consumers: [await reader(ws, "y-app", b)],
      ...verify,
    },
    { file: y },
  );
  return { ws, x, y, files: { s, a, b } };
}

const args = (setup: SharedSetup, config: string, command: string, ...rest: string[]) => [
  command,
  "--config",
  config,
  "--state-dir",
  setup.ws.stateDir,
  "--json",
  ...rest,
];

/** Every store's key, and whether Twilio accepts it: a store on a refused key is stranded. */
async function strandedStores(setup: SharedSetup): Promise<string[]> {
  const stranded: string[] = [];
  for (const [name, file] of Object.entries(setup.files)) {
    const key = await readStoreKey(file);
    if (key.secret !== undefined && key.secret !== setup.ws.seeded.secret) setup.ws.secrets.push(key.secret);
    if (!(await authenticates(e2e.emulator, key.sid!, key.secret!))) stranded.push(`${name} (${key.sid})`);
  }
  return stranded;
}

/** One race: X and Y rotate at once, each held once its config is recorded, until both are; then both go. */
async function race(setup: SharedSetup): Promise<{ x: CliRun; y: CliRun; stranded: string[] }> {
  const pauses = [join(setup.ws.dir, "pause-x"), join(setup.ws.dir, "pause-y")];
  await Promise.all(pauses.map((file) => writeFile(file, "")));
  const [x, y] = [setup.x, setup.y].map((config, i) =>
    runCli(args(setup, config, "rotate"), {
      env: { ...setup.ws.env, ROTATOR_PAUSE: "before-lock:rotate", ROTATOR_PAUSE_FILE: pauses[i] },
    }),
  ) as [Promise<CliRun>, Promise<CliRun>];
  // Both recorded (or, with a rotator that has no such point, both already racing): let them go together.
  await until(async () => pauses.every((file) => existsSync(`${file}.reached`)), 20_000).catch(() => undefined);
  await Promise.all(pauses.map((file) => rm(file, { force: true })));
  const [xRun, yRun] = await Promise.all([x, y]);
  return { x: xRun, y: yRun, stranded: await strandedStores(setup) };
}

describe("two configs sharing a store, each with its own, rotated at once", () => {
  it(`${RACES} races: no store is left on a revoked key, no consumer on a dead one`, async () => {
    const outcomes: Array<{ codes: Array<number | null>; stranded: string[] }> = [];
    for (let batch = 0; batch < RACES / AT_ONCE; batch++) {
      const setups = await Promise.all(Array.from({ length: AT_ONCE }, () => sharedSetup()));
      const results = await Promise.all(setups.map(race));
      outcomes.push(...results.map((r) => ({ codes: [r.x.code, r.y.code], stranded: r.stranded })));
    }
    expect(outcomes).toHaveLength(RACES);
    // Each consumer reads its own config's store: one on a revoked key is a stranded store here.
    expect(outcomes.filter((o) => o.stranded.length > 0)).toEqual([]);
    for (const outcome of outcomes) {
      // Refused at the lock (5), or by the other config's store holding the key (6); never a crash.
      for (const code of outcome.codes) expect([0, 5, 6]).toContain(code);
    }
  });

  it("whoever holds the locks names the other config's own store, and rotates nothing", async () => {
    const setup = await sharedSetup();
    const { x, y } = await race(setup);
    // The other is refused at the lock (5), or, if it got the locks once they were free, the same way (6).
    expect([x.code, y.code].sort()).toEqual(expect.arrayContaining([6]));
    for (const [run, other] of [
      [x, "y"],
      [y, "x"],
    ] as const) {
      expect([5, 6], run.stderr).toContain(run.code);
      if (run.code !== 6) continue;
      const result = JSON.parse(run.stdout) as { error: string; hint: string };
      expect(result.error).toMatch(
        new RegExp(
          `is also held by store ${other}-own \\(dotenv file .*\\) of config .*${other}\\.yaml \\(which shares a store with this config`,
        ),
      );
      expect(result.hint).toContain("--allow-shared-revoke");
    }
    for (const file of Object.values(setup.files)) expect((await readStoreKey(file)).sid).toBe(setup.ws.seeded.sid);
  });
});

describe("a config refused while another awaits its consumers", () => {
  it("is known to that run's resume, which does not revoke the key its store holds (exit 6); rollback restores all", async () => {
    const setup = await sharedSetup({ consumersTimeoutSeconds: 0.5 });
    const { ws, files } = setup;
    // X's consumer reads a file of its own, so X stops awaiting consumers until it is pointed at X's store.
    const pending = join(ws.dir, "x-pending.env");
    await writeFile(pending, "TWILIO_API_KEY=none\n", { mode: 0o600 });
    await writeConfigFor(
      ws,
      {
        stores: [
          { name: "shared", type: "dotenv-file", path: files.s },
          { name: "x-own", type: "dotenv-file", path: files.a },
        ],
        consumers: [await reader(ws, "x-app", pending)],
        verify: {
          newKeyTimeoutSeconds: 5,
          revokeConfirmSeconds: 2,
          consumersPollSeconds: 0.2,
          consumersTimeoutSeconds: 0.5,
        },
      },
      { file: setup.x },
    );
    const x = await runJson(args(setup, setup.x, "rotate"), { env: ws.env });
    expect(x.run.code, x.run.stderr).toBe(4);
    const k1 = await readStoreKey(files.a);
    ws.secrets.push(k1.secret!);

    // Y is refused (X's run is unfinished and shares S), having journaled nothing; it was recorded all the same.
    const y = await runJson(args(setup, setup.y, "rotate"), { env: ws.env });
    expect(y.run.code, y.run.stderr).toBe(6);
    expect(y.result.runId).toBeNull();

    // X's consumer now uses the new key; resume would revoke K0, which Y's own store still holds.
    await writeFile(pending, `TWILIO_API_KEY=${k1.sid}\n`, { mode: 0o600 });
    const resumed = await runJson(args(setup, setup.x, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(6);
    expect(resumed.result.error).toMatch(/is also held by store y-own .* of config .*y\.yaml .*; it was not revoked/);
    expect(resumed.result.next).toContain("--allow-shared-revoke");
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    expect(await strandedStores(setup)).toEqual([]);

    // The run stays X's to finish: rollback puts K0 back everywhere and deletes K1.
    await writeFile(pending, `TWILIO_API_KEY=${ws.seeded.sid}\n`, { mode: 0o600 });
    const rolledBack = await runJson(args(setup, setup.x, "rollback"), { env: ws.env });
    expect(rolledBack.run.code, rolledBack.run.stderr).toBe(0);
    for (const file of Object.values(files)) expect((await readStoreKey(file)).sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, k1.sid!, k1.secret!)).toBe(false);
    expect(await strandedStores(setup)).toEqual([]);
  });
});
