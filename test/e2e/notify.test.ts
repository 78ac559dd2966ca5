/**
 * Notifications (issue #11) through the real CLI: each outcome of a run reaches the webhooks that want it
 * (completed, failed, awaiting-consumers, rolled-back; needs-operator is mapped in test/unit/notify.test.ts),
 * signed when a secret is given, Slack's shape for Slack; a webhook answering 500, or never answering,
 * leaves the run's result and exit code as they were and shows in its warnings. Every payload is scanned
 * for secrets with the rest of the output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_VARIABLE, cliArgs, readStoreKey, runJson, useE2e, type Workspace, writeConfigFor } from "./harness.js";
import { type Receiver, startReceiver, validSignature } from "./notify-receiver.js";

const e2e = useE2e();
const SECRET = "whsec-fedcba9876543210fedcba9876543210";
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const keepNewSecret = async (ws: Workspace) => ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);

describe("notifications", () => {
  it("each outcome reaches its targets: failed, awaiting-consumers, rolled-back, completed; filtered by events", async () => {
    const ws = await e2e.workspace(2);
    ws.secrets.push(SECRET);
    const notify = [
      { type: "webhook", url: `${receiver.url}/all`, secret: { env: "HOOK_SECRET" } },
      { type: "webhook", url: `${receiver.url}/failures`, events: ["failed", "needs-operator"] },
      { type: "slack", url: { env: "SLACK_URL" } },
    ];
    const env = { ...ws.env, HOOK_SECRET: SECRET, SLACK_URL: `${receiver.url}/slack` };

    // failed: the admin credential is refused in preflight (exit 2, nothing changed).
    await writeConfigFor(ws, { notify });
    const failed = await runJson(cliArgs(ws, "rotate"), { env: { ...env, [ADMIN_VARIABLE]: "0".repeat(32) } });
    expect(failed.run.code).toBe(2);
    // awaiting-consumers: a consumer that never reports the new key (exit 4), then rolled back on request.
    await writeConfigFor(ws, {
      notify,
      // Reports the old key only: never converges on the new one, and is back on the old at once.
      consumers: [
        {
          name: "stuck",
          type: "command",
          command: ["sh", "-c", `test "$ROTATOR_EXPECTED_KEY_SID" = ${ws.seeded.sid}`],
        },
      ],
      verify: { consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.1 },
    });
    const awaiting = await runJson(cliArgs(ws, "rotate"), { env });
    expect(awaiting.run.code, awaiting.run.stderr).toBe(4);
    const rolledBack = await runJson(cliArgs(ws, "rollback"), { env });
    expect(rolledBack.result.status, rolledBack.run.stdout).toBe("rolled-back");
    // completed.
    await writeConfigFor(ws, { notify });
    const completed = await runJson(cliArgs(ws, "rotate"), { env });
    expect(completed.run.code, completed.run.stderr).toBe(0);
    await keepNewSecret(ws);
    // not-due notifies no one.
    expect((await runJson(cliArgs(ws, "rotate", "--if-due"), { env })).result.status).toBe("not-due");

    expect(receiver.events("/all")).toEqual(["failed", "awaiting-consumers", "rolled-back", "completed"]);
    expect(receiver.events("/failures")).toEqual(["failed"]);
    for (const r of receiver.received.filter((r) => r.path === "/all")) expect(validSignature(r, SECRET)).toBe(true);
    expect(receiver.received.find((r) => r.path === "/failures")?.headers["x-rotator-signature"]).toBeUndefined();

    const all = receiver.received.filter((r) => r.path === "/all").map((r) => r.json);
    expect(all[0]).toMatchObject({ account: `AC…${ws.twilio.accountSid.slice(-4)}`, config: ws.configPath });
    expect(all[0]!.details.error).toContain("admin credential does not authenticate");
    expect(all[1]!.details).toMatchObject({ status: "awaiting-consumers", exitCode: 4, runId: awaiting.result.runId });
    expect(all[2]!.details).toMatchObject({ command: "rollback", status: "rolled-back", runId: awaiting.result.runId });
    expect(all[3]!.details).toMatchObject({ status: "completed", newKey: completed.result.newKey });

    const slack = receiver.received
      .filter((r) => r.path === "/slack")
      .map((r) => JSON.parse(r.body) as { text: string });
    expect(slack).toHaveLength(4);
    expect(slack[3]!.text).toContain("*rotator completed*");
    expect(Object.keys(slack[3]!)).toEqual(["text"]);
    for (const r of receiver.received) expect(r.body).not.toContain(ws.twilio.accountSid);
  });

  it("a webhook answering 500, or hanging, leaves the result and exit code unchanged and shows in the warnings", async () => {
    const ws = await e2e.workspace(2);
    receiver.answer.set("/broken", "fail");
    receiver.answer.set("/hanging", "hang");
    await writeConfigFor(ws, {
      notify: [
        { type: "webhook", url: `${receiver.url}/broken` },
        { type: "webhook", url: `${receiver.url}/hanging`, timeoutSeconds: 0.3 },
        { type: "webhook", url: `${receiver.url}/fine` },
      ],
    });
    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    await keepNewSecret(ws);
    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    expect((await readStoreKey(ws.storeFiles[1]!)).sid).not.toBe(ws.seeded.sid);
    expect(result.warnings.filter((w) => w.startsWith("notification"))).toEqual([
      expect.stringMatching(
        /^notification completed to notify\[0\] \(webhook http:\/\/127\.0\.0\.1:\d+\/broken\) failed: HTTP 500 \(3 attempts\); the outcome is unchanged$/,
      ),
      expect.stringMatching(
        /^notification completed to notify\[1\] \(webhook http:\/\/127\.0\.0\.1:\d+\/hanging\) failed: no answer within 300 ms \(3 attempts\)/,
      ),
    ]);
    expect(receiver.events("/broken")).toEqual(["completed", "completed", "completed"]);
    expect(receiver.events("/fine")).toEqual(["completed"]);
    expect(run.stderr).toContain("! notification completed to notify[0]");
  });
});
