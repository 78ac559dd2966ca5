/**
 * A run owns its facts (issue #17, item 1): its consumers, its stores and their entries, its credential's
 * settings and its admin source are journaled when it starts, and `resume` and `rollback` act on them
 * whatever config they are invoked with. The config only finds the run; every way it differs is said.
 *
 * - the seen case: a run whose config lists a consumer that never switches, interrupted with Ctrl-C, then a
 *   plain `rotator resume` reading `./rotator.yaml` (the same stores, that consumer not listed): the old key
 *   is not deleted, the result says why and how to drop the consumer; `--drop-consumer` finishes it, journaled
 *   and named in the result; a consumer the new config adds is waited for too;
 * - `rollback` with a config that lacks a consumer still on the new key keeps the new key until it is back;
 * - stores listed under other names and in another order: the run goes on, in its own order, and says so;
 * - a journal of an older rotator (no facts) still resumes, with the config's consumers, and says so.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CommandResult } from "../../src/engine/result.js";
import {
  authenticates,
  cliArgs,
  journals,
  readStoreKey,
  runCli,
  runJson,
  startCli,
  until,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();

/** A command consumer that reports the seeded key only: it never switches to a new one. */
async function stuckConsumer(ws: Workspace): Promise<Record<string, unknown>> {
  const script = join(ws.dir, "stuck.sh");
  await writeFile(script, `#!/bin/sh\ntest "$ROTATOR_EXPECTED_KEY_SID" = "${ws.seeded.sid}"\n`, { mode: 0o755 });
  return { name: "stuck", type: "command", command: [script] };
}

/** A command consumer that uses whatever key its store holds (it reads the file at each check). */
async function storeReader(ws: Workspace, name: string, file: string): Promise<Record<string, unknown>> {
  const script = join(ws.dir, `${name}.sh`);
  await writeFile(script, `#!/bin/sh\ngrep -q "^TWILIO_API_KEY=$ROTATOR_EXPECTED_KEY_SID$" ${file}\n`, { mode: 0o755 });
  return { name, type: "command", command: [script] };
}

/** A consumer that switches to a new key and never goes back to the seeded one. */
async function stickyConsumer(ws: Workspace): Promise<Record<string, unknown>> {
  const script = join(ws.dir, "sticky.sh");
  await writeFile(script, `#!/bin/sh\ntest "$ROTATOR_EXPECTED_KEY_SID" != "${ws.seeded.sid}"\n`, { mode: 0o755 });
  return { name: "sticky", type: "command", command: [script] };
}

const verify = (consumersTimeoutSeconds: number) => ({
  verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds, consumersPollSeconds: 0.2 },
});

/** Every journal line of the workspace, parsed. */
async function events(ws: Workspace): Promise<Array<Record<string, unknown>>> {
  return (await journals(ws))
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("resume waits for the consumers the run started with, whatever config it reads", () => {
  it("a consumer left out of ./rotator.yaml is still waited for: the old key stays until it is dropped by name", async () => {
    const ws = await e2e.workspace(2);
    // Plain commands, as an operator types them: the default state directory and ./rotator.yaml.
    const env = { ...ws.env, XDG_STATE_HOME: join(ws.dir, "xdg") };
    // The secret scan reads the workspace's journals: they are in the default state directory here.
    ws.stateDir = join(env.XDG_STATE_HOME, "rotator");
    const started = join(ws.dir, "started-with.yaml");
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws)], ...verify(60) }, { file: started });

    // Ctrl-C while the run waits for its consumers: it stops resumable, every store on the new key.
    const rotate = startCli(["rotate", "--config", started, "--json"], { env });
    await until(async () => rotate.stderr().includes("waiting for 1 consumer(s)"), 30_000);
    rotate.child.kill("SIGINT");
    const interrupted = await rotate.done;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(JSON.parse(interrupted.stdout).status).toBe("interrupted");
    const newKey = await readStoreKey(ws.storeFiles[0]!);
    ws.secrets.push(newKey.secret!);
    expect(newKey.sid).not.toBe(ws.seeded.sid);

    // ./rotator.yaml names the same stores, not `stuck`, and a consumer of its own that reads app-2.
    await writeConfigFor(ws, { consumers: [await storeReader(ws, "fresh", ws.storeFiles[1]!)], ...verify(1) });
    const plain = await runJson(["resume"], { env, cwd: ws.dir });
    expect(plain.run.code, plain.run.stderr).toBe(4);
    // The old key was not deleted: `stuck` still uses it, and Twilio still accepts it.
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
    const result = plain.result;
    expect(result.status).toBe("awaiting-consumers");
    expect(result.error).toContain("stuck");
    expect(result.consumers.map((c) => [c.name, c.convergedAt !== null])).toEqual([
      ["stuck", false],
      ["fresh", true],
    ]);
    const differences = (result.configDifferences ?? []).join("\n");
    expect(differences).toContain(`the run was started with config ${started}`);
    expect(differences).toMatch(
      /consumer stuck \(command .*stuck\.sh\) is not in this config, but the run started with it: it is still waited for \(`rotator resume --drop-consumer stuck`/,
    );
    expect(differences).toMatch(
      /consumer fresh \(command .*fresh\.sh\) is in this config but not in the run's: it is waited for too/,
    );
    expect(plain.run.stdout).not.toContain(ws.seeded.secret);

    // A name the run does not wait for is bad input: nothing changes.
    const unknown = await runJson(["resume", "--drop-consumer", "nobody"], { env, cwd: ws.dir });
    expect(unknown.run.code).toBe(2);
    expect(unknown.result.error).toMatch(
      /--drop-consumer nobody: run \S+ waits for no consumer of that name \(its consumers: stuck\)/,
    );
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);

    // Dropping it is the operator's explicit word: journaled, named in the result (text and --json).
    const dropped = await runJson(["resume", "--drop-consumer", "stuck"], { env, cwd: ws.dir });
    expect(dropped.run.code, dropped.run.stderr).toBe(0);
    expect(dropped.result.status).toBe("completed");
    expect(dropped.result.droppedConsumers).toEqual(["stuck"]);
    expect(dropped.result.consumers.map((c) => c.name)).toEqual(["fresh"]);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    const journaled = (await events(ws)).filter((e) => e.event === "consumers-dropped");
    expect(journaled).toEqual([expect.objectContaining({ names: ["stuck"], command: "resume" })]);

    // The run's facts are in its first record, references as references, no secret.
    const first = (await events(ws)).find((e) => e.event === "run-started") as {
      facts: { consumers: Array<{ name: string }>; admin: unknown };
      stores: Array<{ entry: { path: string } }>;
    };
    expect(first.facts.consumers.map((c) => c.name)).toEqual(["stuck"]);
    expect(first.facts.admin).toEqual({ authToken: { env: "TEST_TWILIO_AUTH_TOKEN" } });
    expect(first.stores.map((s) => s.entry.path)).toEqual(ws.storeFiles);
  });

  it("the text result says what differs and whom the run no longer waits for", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws)], ...verify(0.5) });
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    await writeConfigFor(ws, verify(0.5));
    const text = await runCli(["resume", "--config", ws.configPath, "--state-dir", ws.stateDir], { env: ws.env });
    expect(text.code).toBe(4);
    expect(text.stdout).toContain("this config differs from the run's facts");
    expect(text.stdout).toContain("--drop-consumer stuck");
    const done = await runCli(
      ["resume", "--config", ws.configPath, "--state-dir", ws.stateDir, "--drop-consumer", "stuck"],
      { env: ws.env },
    );
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain("consumers dropped from the run (--drop-consumer): stuck");
  });
});

describe("a consumer the config configures anew", () => {
  it("under the same name (restarted elsewhere, say) is the same consumer: this config's probe is used, and said", async () => {
    const ws = await e2e.workspace(1);
    const stuck = await stuckConsumer(ws);
    await writeConfigFor(ws, { consumers: [{ ...stuck, name: "app" }], ...verify(0.5) });
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    await writeConfigFor(ws, {
      consumers: [{ ...(await storeReader(ws, "moved", ws.storeFiles[0]!)), name: "app" }],
      ...verify(0.5),
    });
    const resumed = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(0);
    expect(resumed.result.consumers.map((c) => c.name)).toEqual(["app"]);
    expect((resumed.result.configDifferences ?? []).join("\n")).toContain(
      "consumer app differs from the run's (command): it is the same consumer, configured anew (moved, say), and this config's probe is used",
    );
  });
});

describe("rollback waits for the run's consumers to be back on the old key, whatever config it reads", () => {
  it("a consumer on the new key that the config no longer lists keeps the new key alive until dropped", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws), await stickyConsumer(ws)], ...verify(0.5) });
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    const newKey = await readStoreKey(ws.storeFiles[0]!);
    ws.secrets.push(newKey.secret!);

    await writeConfigFor(ws, verify(0.5));
    const kept = await runJson(cliArgs(ws, "rollback"), { env: ws.env });
    expect(kept.run.code, kept.run.stderr).toBe(7);
    expect(kept.result.error).toMatch(/sticky still use\(s\) the new key, so it was not deleted/);
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(true);
    expect((kept.result.configDifferences ?? []).join("\n")).toMatch(/consumer sticky .* not in this config/);
    for (const file of ws.storeFiles) expect((await readStoreKey(file)).sid).toBe(ws.seeded.sid);

    const dropped = await runJson([...cliArgs(ws, "rollback"), "--drop-consumer", "sticky"], { env: ws.env });
    expect(dropped.run.code, dropped.run.stderr).toBe(0);
    expect(dropped.result.droppedConsumers).toEqual(["sticky"]);
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(false);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});

describe("the run's stores, whatever the config calls them", () => {
  it("the same stores under other names and in another order: resumed in the run's order, each difference said", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws)], ...verify(0.5) });
    expect((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).code).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    await writeConfigFor(ws, {
      stores: [
        { name: "second", type: "dotenv-file", path: ws.storeFiles[1] },
        { name: "first", type: "dotenv-file", path: ws.storeFiles[0], fields: { apiKeySid: "TWILIO_API_KEY" } },
      ],
      consumers: [await stuckConsumer(ws)],
      ...verify(0.5),
    });
    const resumed = await runJson([...cliArgs(ws, "resume"), "--drop-consumer", "stuck"], { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(0);
    const differences = (resumed.result.configDifferences ?? []).join("\n");
    expect(differences).toContain("store app-1 of the run is named first in this config");
    expect(differences).toContain("store app-2 of the run is named second in this config");
    expect(differences).toContain("store app-1's entry differs from the run's (fields): the run's is used");
    expect(differences).toContain("another order (the run's: app-1, app-2): the run's order is kept");
    // The result names the stores as the run does.
    expect(resumed.result.stores.map((s) => s.name)).toEqual(["app-1", "app-2"]);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
  });
});

describe("a config whose stores are no longer the run's", () => {
  it("resume names each store moved, dropped or added, and changes nothing", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws)], ...verify(0.5) });
    const rotated = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.run.code).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    const moved = join(ws.dir, "moved.env");
    const added = join(ws.dir, "added.env");
    for (const file of [moved, added]) await writeFile(file, await readFile(ws.storeFiles[1]!), { mode: 0o600 });
    const before = await Promise.all(ws.storeFiles.map((file) => readFile(file, "utf8")));
    await writeConfigFor(ws, {
      stores: [
        { name: "app-2", type: "dotenv-file", path: moved },
        { name: "extra", type: "dotenv-file", path: added },
      ],
      ...verify(0.5),
    });
    const resumed = await runJson(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(6);
    const error = resumed.result.error ?? "";
    expect(error).toContain(`run ${rotated.result.runId} of this config file as it was before its stores changed`);
    expect(error).toContain(`store app-1 (dotenv file ${ws.storeFiles[0]}) is no longer listed`);
    expect(error).toContain(
      `store app-2 moved: the run wrote dotenv file ${ws.storeFiles[1]}, this config names dotenv file ${moved}`,
    );
    expect(error).toContain(`store extra (dotenv file ${added}) was added`);
    expect(await Promise.all(ws.storeFiles.map((file) => readFile(file, "utf8")))).toEqual(before);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);
  });
});

describe("a journal without facts (an older rotator's)", () => {
  it("still resumes, with this config's consumers, and says so", async () => {
    const ws = await e2e.workspace(1);
    const reader = await storeReader(ws, "reader", ws.storeFiles[0]!);
    await writeConfigFor(ws, { consumers: [await stuckConsumer(ws)], ...verify(0.5) });
    const rotated = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(rotated.run.code).toBe(4);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    // Rewrite its first record as rotator 0.2 wrote it: no facts, no store entries.
    const file = join(ws.stateDir, "runs", `${rotated.result.runId}.jsonl`);
    const lines = (await readFile(file, "utf8")).split("\n");
    const first = JSON.parse(lines[0]!) as Record<string, unknown> & { stores: Array<Record<string, unknown>> };
    delete first.facts;
    for (const store of first.stores) delete store.entry;
    lines[0] = JSON.stringify(first);
    await writeFile(file, lines.join("\n"));

    await writeConfigFor(ws, { consumers: [reader], ...verify(0.5) });
    const resumed = await runJson<CommandResult>(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(0);
    expect((resumed.result.configDifferences ?? []).join("\n")).toMatch(
      /was started by an older rotator, which did not journal its consumers and settings: it goes on with this config's \(consumers reader\)/,
    );
    expect(resumed.result.consumers.map((c) => c.name)).toEqual(["reader"]);
  });
});
