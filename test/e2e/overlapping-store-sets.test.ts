/**
 * Two configs sharing some stores. Locks and the unfinished-run check go by store, not by config: config X
 * (stores app-1, app-2) ends awaiting consumers; config Y (app-1 only, same state dir) must not rotate app-1
 * meanwhile, or it would revoke the key X put into app-2. Y's rotate exits 6 naming X's run and config file,
 * Y's resume, rollback, plan and status say the same, and X's resume still completes.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADMIN_VARIABLE, authenticates, cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();

describe("overlapping store sets", () => {
  it("a config naming a subset of another config's stores is refused while that config's run is unfinished", async () => {
    const ws = await e2e.workspace(2);
    // Config X: both stores, and a consumer that reports the new key only once a file exists -> awaiting consumers.
    const ready = join(ws.dir, "consumer-ready");
    const check = join(ws.dir, "check-consumer.sh");
    await writeFile(check, `#!/bin/sh\ntest -f ${ready}\n`, { mode: 0o755 });
    await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${check}] }\n`);
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.2 }",
      ),
    );
    const x = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(x.code, x.stderr).toBe(4);
    const xRun = JSON.parse(x.stdout).runId as string;
    const k1 = await readStoreKey(ws.storeFiles[1]!);
    const app1Before = await readFile(ws.storeFiles[0]!, "utf8");

    // Config Y: store app-1 only (same file), same state dir.
    const yPath = join(ws.dir, "rotator-y.yaml");
    await writeFile(
      yPath,
      `version: 1\ntwilio:\n  accountSid: ${e2e.emulator.accountSid}\n  admin: { authToken: { env: ${ADMIN_VARIABLE} } }\n  baseUrl: ${e2e.emulator.baseUrl}\ncredential: { type: api-key, friendlyNamePrefix: e2e }\nstores:\n  - { name: app-1, type: dotenv-file, path: ${ws.storeFiles[0]} }\nverify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }\n`,
    );
    const yArgs = (command: string) => [command, "--config", yPath, "--state-dir", ws.stateDir, "--json"];
    const y = await runCli(yArgs("rotate"), { env: ws.env });
    const app2StillWorks = await authenticates(e2e.emulator, k1.sid!, k1.secret!);
    expect({ code: y.code, app2StillWorks }).toEqual({ code: 6, app2StillWorks: true });
    const refused = JSON.parse(y.stdout);
    expect(refused.error).toContain(`run ${xRun}`);
    expect(refused.error).toContain(`config ${ws.configPath}`);
    expect(refused.error).toContain("app-1");
    expect(refused.hint).toContain(`rotator resume --config ${ws.configPath}`);
    // Y changed nothing: app-1 is as X left it, and no key was created for Y.
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(app1Before);
    expect(e2e.emulator.keys().filter((k) => k.friendlyName.startsWith("e2e-"))).toHaveLength(1);

    // Y's resume and rollback do not answer "nothing to resume": they name X's run and how to resume it.
    for (const command of ["resume", "rollback"]) {
      const run = await runCli(yArgs(command), { env: ws.env });
      expect(run.code, run.stderr).toBe(6);
      const result = JSON.parse(run.stdout);
      expect(result.error).toContain(`run ${xRun}`);
      expect(result.hint).toContain(`rotator ${command} --config ${ws.configPath}`);
    }
    // Y's sync is refused the same way, in its own words (the operation's, not rotate's), and writes nothing.
    const synced = await runCli([...yArgs("sync"), "--from-store", "app-1"], { env: ws.env });
    expect(synced.code, synced.stderr).toBe(6);
    expect(JSON.parse(synced.stdout).error).toContain(`run ${xRun}`);
    expect(JSON.parse(synced.stdout).hint).toContain("syncing now would overwrite the credential that run is putting");
    expect(await readFile(ws.storeFiles[0]!, "utf8")).toBe(app1Before);
    // plan finds the same problem; status reports it.
    const plan = await runCli(yArgs("plan"), { env: ws.env });
    expect(plan.code).toBe(2);
    expect(JSON.parse(plan.stdout).problems).toContainEqual(expect.stringContaining(`run ${xRun}`));
    const status = JSON.parse((await runCli(yArgs("status"), { env: ws.env })).stdout);
    expect(status.problems).toContainEqual(expect.stringContaining(`run ${xRun}`));
    expect(status.lock).toBe("free");
    expect(status.locks).toEqual([expect.objectContaining({ store: "app-1", state: "free" })]);

    // X's run is journaled with its config file and each store's identity.
    const started = JSON.parse((await readFile(join(ws.stateDir, "runs", `${xRun}.jsonl`), "utf8")).split("\n")[0]!);
    expect(started.configFile).toBe(ws.configPath);
    expect(started.stores.map((s: { identity: string }) => s.identity)).toEqual(
      ws.storeFiles.map((file) => `dotenv-file:${file}`),
    );

    // X's consumer converges; X's own resume finishes the run: both stores hold the new key, the old one is revoked.
    await writeFile(ready, "");
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).status).toBe("completed");
    const [app1, app2] = await Promise.all(ws.storeFiles.map(readStoreKey));
    expect(app1!.sid).toBe(app2!.sid);
    expect(app1!.sid).not.toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, app2!.sid!, app2!.secret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);

    // With X finished, no unfinished run stands in Y's way, but X's store app-2 (outside Y) holds the key Y
    // would revoke: Y is refused (issue #8: shared stores), unless the operator says they checked.
    const yPlan = await runCli(yArgs("plan"), { env: ws.env });
    const problems: string[] = JSON.parse(yPlan.stdout).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/is also held by store app-2 .* of config .*rotator\.yaml/);
    expect(problems[0]).toContain("--allow-shared-revoke");
    const overridden = await runCli([...yArgs("plan"), "--allow-shared-revoke"], { env: ws.env });
    expect(JSON.parse(overridden.stdout).problems).toEqual([]);
  });
});
