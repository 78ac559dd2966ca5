/**
 * An emergency rotation (issue #9's hostile release tester, with API keys): `--revoke-immediately` goes ahead with
 * a consumer that is down, and plan tells the truth about the emergency consumer deadline.
 */
import { describe, expect, it } from "vitest";
import { cliArgs, readStoreKey, runCli, useE2e, writeConfigFor } from "./harness.js";

const e2e = useE2e();

/** A consumer nobody answers for (nothing listens on port 1). */
const DOWN = { name: "down", type: "http", url: "http://127.0.0.1:1/.well-known/twilio-credential" };

describe("an emergency --revoke-immediately rotation with a consumer that is down", () => {
  it("goes ahead (the consumer could not use the new key anyway), names it, and plan says the same", async () => {
    const ws = await e2e.workspace(2);
    await writeConfigFor(ws, { consumers: [DOWN] });

    // Without --revoke-immediately a consumer that cannot be checked stops the run before anything changes.
    const plain = await runCli(cliArgs(ws, "plan", "--emergency"), { env: ws.env });
    expect(plain.code, plain.stderr).toBe(2);

    const plan = await runCli(cliArgs(ws, "plan", "--emergency", "--revoke-immediately"), { env: ws.env });
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout);
    expect(planned.problems).toEqual([]);
    expect(planned.notes.join("\n")).toContain('consumer "down"');
    expect(planned.steps.join("\n")).toContain("the revoke does not wait for them");

    const run = await runCli(cliArgs(ws, "rotate", "--emergency", "--revoke-immediately"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    ws.secrets.push((await readStoreKey(ws.storeFiles[0]!)).secret!);
    expect(e2e.emulator.keys().map((k) => k.sid)).not.toContain(ws.seeded.sid);
    expect(result.warnings.join("\n")).toMatch(/--revoke-immediately.*down/);
  });

  it("--revoke-immediately without --emergency is refused by plan as by rotate (exit 2)", async () => {
    const ws = await e2e.workspace(1);
    const run = await runCli(cliArgs(ws, "plan", "--revoke-immediately"), { env: ws.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--revoke-immediately goes with --emergency");
  });
});

describe("plan tells the truth about an emergency rotation", () => {
  it("the consumer deadline printed is the emergency one rotate --emergency uses", async () => {
    const ws = await e2e.workspace(1);
    await writeConfigFor(ws, {
      consumers: [DOWN],
      verify: { consumersTimeoutSeconds: 300, emergencyConsumersTimeoutSeconds: 45 },
    });
    const plain = JSON.parse((await runCli(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    const emergency = JSON.parse((await runCli(cliArgs(ws, "plan", "--emergency"), { env: ws.env })).stdout);
    const waitStep = (plan: { steps: string[] }) => plan.steps.find((step) => step.includes("consumer(s)"));
    expect(waitStep(plain)).toContain("up to 300 s");
    expect(waitStep(emergency)).toContain("up to 45 s");
  });
});
