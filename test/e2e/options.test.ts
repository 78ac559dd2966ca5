/**
 * The options a scheduled job and an emergency rely on: status, --if-due, --emergency, restricted keys
 * (IAM v1), and a Main key as the admin credential.
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  ADMIN_VARIABLE,
  adminClient,
  authenticates,
  cliArgs,
  journals,
  readStoreKey,
  runCli,
  useE2e,
} from "./harness.js";

const e2e = useE2e();

const workspace = (stores?: number) => e2e.workspace(stores);

describe("status", () => {
  it("shows the current key masked, its age, the lock and recent runs", async () => {
    const ws = await workspace();
    const before = JSON.parse((await runCli(cliArgs(ws, "status"), { env: ws.env })).stdout);
    expect(before).toMatchObject({
      currentKey: `SK…${ws.seeded.sid.slice(-4)}`,
      ageDays: 0,
      madeByRun: null,
      due: false,
      lock: "free",
      runs: [],
    });
    const rotated = JSON.parse((await runCli(cliArgs(ws, "rotate"), { env: ws.env })).stdout);
    const after = await runCli(cliArgs(ws, "status"), { env: ws.env });
    expect(after.code).toBe(0);
    const status = JSON.parse(after.stdout);
    expect(status.currentKey).toBe(rotated.newKey);
    expect(status.runs).toEqual([
      expect.objectContaining({ runId: rotated.runId, command: "rotate", status: "completed" }),
    ]);
    const human = await runCli(["status", "--config", ws.configPath, "--state-dir", ws.stateDir], { env: ws.env });
    // Its age worded from what the journals know: made by the run just now, not "0 days old".
    expect(human.stdout).toMatch(
      new RegExp(
        `current key: ${rotated.newKey}, rotated (less than a minute|\\d+ minutes?) ago by rotator run ${rotated.runId}`,
      ),
    );
    expect(status.madeByRun).toBe(rotated.runId);
    expect(human.stdout).toContain(`${rotated.runId}  rotate  completed`);
  });
});

describe("--if-due", () => {
  it("leaves a key younger than maxAgeDays alone and changes nothing", async () => {
    const ws = await workspace();
    const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
    const skipped = await runCli(cliArgs(ws, "rotate", "--if-due"), { env: ws.env });
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(JSON.parse(skipped.stdout).status).toBe("not-due");
    expect(skipped.stderr).toContain("0 days old (rotates at 90)");
    expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
    expect(await journals(ws)).toBe("");

    // The due path (a key older than maxAgeDays) is covered in test/unit/engine-order.test.ts, where the
    // issuer can report a key created 100 days ago; the emulator dates every key now.
  });
});

describe("--emergency", () => {
  it("a current key already deleted in Twilio stops a normal rotation, and --emergency replaces it", async () => {
    const ws = await workspace();
    await adminClient(e2e.emulator).api.v2010.accounts(e2e.emulator.accountSid).keys(ws.seeded.sid).remove();
    const normal = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(normal.code).toBe(2);
    expect(JSON.parse(normal.stdout).error).toContain("--emergency");

    const emergency = await runCli(cliArgs(ws, "rotate", "--emergency"), { env: ws.env });
    expect(emergency.code, emergency.stderr).toBe(0);
    const result = JSON.parse(emergency.stdout);
    expect(result.status).toBe("completed");
    expect(result.oldKey).toBeNull();
    const [a, b] = await Promise.all(ws.storeFiles.map(readStoreKey));
    expect(b).toEqual(a);
    expect(await authenticates(e2e.emulator, a!.sid!, a!.secret!)).toBe(true);
    expect(emergency.stderr).toContain("no old key to revoke");
  });
});

describe("key types and admin credentials", () => {
  it("rotates to a restricted key through IAM v1, verified on a path its policy allows", async () => {
    const ws = await workspace();
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "  friendlyNamePrefix: e2e",
        '  friendlyNamePrefix: e2e\n  keyType: restricted\n  policy: { allow: ["/twilio/messaging/messages/read"] }',
      ),
    );
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const { sid, secret } = await readStoreKey(ws.storeFiles[0]!);
    expect(e2e.emulator.keys().find((k) => k.sid === sid)?.keyType).toBe("restricted");
    expect(await authenticates(e2e.emulator, sid!, secret!)).toBe(true);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
  });

  it("uses a Main key as the admin credential", async () => {
    const ws = await workspace();
    const main = e2e.emulator.createMainKey();
    e2e.issuedSecrets.add(main.secret);
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        `admin: { authToken: { env: ${ADMIN_VARIABLE} } }`,
        `admin: { apiKeySid: ${main.sid}, apiKeySecret: { env: MAIN_KEY_SECRET } }`,
      ),
    );
    const run = await runCli(cliArgs(ws, "rotate"), {
      env: { ...ws.env, MAIN_KEY_SECRET: main.secret, [ADMIN_VARIABLE]: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(e2e.emulator.keys().some((k) => k.sid === main.sid)).toBe(true);
  });

  it("a Standard key as admin is refused in preflight with the likely cause", async () => {
    const ws = await workspace();
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        `admin: { authToken: { env: ${ADMIN_VARIABLE} } }`,
        `admin: { apiKeySid: ${ws.seeded.sid}, apiKeySecret: { env: STANDARD_SECRET } }`,
      ),
    );
    const run = await runCli(cliArgs(ws, "plan"), { env: { ...ws.env, STANDARD_SECRET: ws.seeded.secret } });
    expect(run.code).toBe(2);
    const problems = JSON.parse(run.stdout).problems.join("\n");
    expect(problems).toContain("20003");
    expect(problems).toContain("Standard key");
  });
});
