/**
 * The PostgreSQL state database goes away in the middle of a run: the run stops at its next step (a step it
 * cannot record it does not take), the result names the database, the config and `rotator resume` as the next
 * step, with exit 7 (an operator has to act), never a raw ECONNREFUSED with exit 1; nothing is revoked. Once
 * the database is back, `resume` finishes the run. On a PostgreSQL server of this file's own, stopped and
 * started again (its data directory kept, as a database's is across an outage).
 */
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, type TestDatabase } from "../harness/postgres.js";
import { type RunningServers, startServers } from "../harness/servers.js";
import { authenticates, cliArgs, readStoreKey, runCli, until, useE2e, writeConfigFor } from "./harness.js";

const e2e = useE2e();
let own: RunningServers<"postgres">;
let db: TestDatabase;

beforeAll(async () => {
  own = await startServers(["postgres"]);
  db = await freshDatabase(own.endpoints, "outage");
});

afterAll(async () => {
  await db?.drop().catch(() => undefined);
  await own?.stop();
});

describe("the state database lost mid-run", () => {
  it("stops the run with the database and `rotator resume` named (exit 7); resume finishes it once it is back", async () => {
    const ws = await e2e.workspace(2);
    const hold = join(ws.dir, "hold");
    const reached = join(ws.dir, "reached");
    await writeFile(hold, "");
    // A consumer that reports the new key only once the test lets it: asked about the new key, the run is past
    // its store writes, waiting for consumers, which is where the database goes away. (Preflight asks about
    // the current key, which it uses.)
    const probe = `[ "$ROTATOR_EXPECTED_KEY_SID" = '${ws.seeded.sid}' ] && exit 0; [ -e '${hold}' ] || exit 0; touch '${reached}'; exit 1`;
    await writeConfigFor(ws, {
      state: { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: 2 },
      consumers: [{ name: "held", type: "command", command: ["sh", "-c", probe] }],
      verify: { consumersPollSeconds: 0.2 },
    });
    const env = { ...ws.env, DATABASE_URL: db.url };

    const rotating = runCli(cliArgs(ws, "rotate"), { env });
    await Promise.race([
      until(async () => existsSync(reached), 60_000),
      rotating.then((run) => expect.fail(`rotate ended before its consumer was asked:\n${run.stdout}\n${run.stderr}`)),
    ]);
    await own.stopOne("postgres");
    await rm(hold);
    const stopped = await rotating;

    expect(stopped.code, stopped.stderr).toBe(7);
    const result = JSON.parse(stopped.stdout);
    const display = `127.0.0.1:${own.endpoints.postgres.port}/${db.database}`;
    expect(result.error).toMatch(/^run \S+ stopped: the PostgreSQL state database /);
    expect(result.error).toContain(`${display} (state.url in ${ws.configPath}) stopped answering`);
    expect(result.error).toContain("could not record its next step and did not take it");
    expect(result.hint).toContain(`\`rotator resume --config ${ws.configPath}\``);
    expect(stopped.stderr).not.toMatch(/^\s+at /m);
    // Nothing past the last recorded step: both stores hold the new key, the old one still authenticates.
    const [first, second] = await Promise.all(ws.storeFiles.map(readStoreKey));
    expect(second).toEqual(first);
    expect(first?.sid).not.toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(true);

    await own.startOne("postgres");
    const resumed = await runCli(cliArgs(ws, "resume"), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "completed", newKey: `SK…${first!.sid!.slice(-4)}` });
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(await authenticates(e2e.emulator, first!.sid!, first!.secret!)).toBe(true);
  });
});
