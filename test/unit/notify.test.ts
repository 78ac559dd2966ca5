/** Which notification a result makes, the payload's shape, Slack's message, and the signature receivers check. */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/commands/registry.js";
import { emptyResult } from "../../src/engine/result.js";
import { ExitCode } from "../../src/errors.js";
import { describeTarget, signBody, slackMessage } from "../../src/notify/deliver.js";
import { RUN_OUTCOME_EVENTS } from "../../src/notify/events.js";
import { eventForResult, resultPayload } from "../../src/notify/outcome.js";
import { notifyEntrySchema } from "../../src/notify/schema.js";

describe("eventForResult", () => {
  it("maps every outcome of the commands that change stores; other commands and quiet outcomes notify no one", () => {
    const definitions = new Map(COMMANDS.map((definition) => [definition.name, definition]));
    const event = (command: string, status: Parameters<typeof emptyResult>[1], code: number) =>
      eventForResult(emptyResult(command, status, code), definitions.get(command)?.notifies ?? []);
    expect(event("rotate", "completed", 0)).toBe("completed");
    expect(event("resume", "completed", 0)).toBe("completed");
    expect(event("sync", "completed", 0)).toBe("completed");
    expect(event("rotate", "rolled-back", ExitCode.rolledBack)).toBe("rolled-back");
    expect(event("rollback", "rolled-back", 0)).toBe("rolled-back");
    expect(event("rotate", "awaiting-consumers", ExitCode.awaitingConsumers)).toBe("awaiting-consumers");
    expect(event("sync", "awaiting-consumers", ExitCode.awaitingConsumers)).toBe("awaiting-consumers");
    expect(event("rotate", "failed", ExitCode.badInput)).toBe("failed");
    expect(event("resume", "failed", ExitCode.needsOperator)).toBe("needs-operator");
    expect(event("rotate", "rolled-back", ExitCode.needsOperator)).toBe("needs-operator");
    expect(event("rotate", "not-due", 0)).toBeUndefined();
    expect(event("resume", "nothing-to-resume", 0)).toBeUndefined();
    expect(event("rotate", "cancelled", ExitCode.cancelled)).toBeUndefined();
    expect(event("sync", "cancelled", ExitCode.cancelled)).toBeUndefined();
    expect(event("plan", "failed", ExitCode.badInput)).toBeUndefined();
    expect(event("status", "failed", ExitCode.badInput)).toBeUndefined();
  });

  it("the commands that change stores notify alike", () => {
    const changing = COMMANDS.filter((definition) => definition.changesStores);
    expect(changing.map((definition) => definition.name).sort()).toEqual(["resume", "rollback", "rotate", "sync"]);
    for (const definition of changing) expect(definition.notifies).toEqual(RUN_OUTCOME_EVENTS);
  });

  it("the payload carries masked ids and the result's words, and Slack gets text only", () => {
    const result = {
      ...emptyResult("rotate", "failed", 7, { error: "revoke failed", next: "rotator resume" }),
      oldKey: "SK…a1b2",
    };
    const payload = resultPayload("needs-operator", result, {
      accountSid: `AC${"0".repeat(28)}9f3e`,
      configFile: "/etc/r.yaml",
    });
    expect(payload).toMatchObject({ event: "needs-operator", account: "AC…9f3e", config: "/etc/r.yaml" });
    expect(payload.summary).toBe("rotate failed, exit 7: SK…a1b2 -> (none)");
    expect(slackMessage(payload).text).toBe(
      ":rotating_light: *rotator needs-operator*: rotate failed, exit 7: SK…a1b2 -> (none)\naccount AC…9f3e, config `/etc/r.yaml`\nerror: revoke failed\nnext: rotator resume",
    );
  });
});

describe("targets", () => {
  it("a Slack URL is named by its variable, never shown; a webhook by origin and path", () => {
    const slack = notifyEntrySchema.parse({ type: "slack", url: { env: "SLACK_URL" } });
    expect(describeTarget(slack, 1)).toBe("notify[1] (slack, SLACK_URL)");
    const hook = notifyEntrySchema.parse({ type: "webhook", url: "https://hooks.example.com/r?x=1" });
    expect(describeTarget(hook, 0)).toBe("notify[0] (webhook https://hooks.example.com/r)");
  });

  it("refuses a Slack URL written into the config, and unknown events", () => {
    expect(notifyEntrySchema.safeParse({ type: "slack", url: "https://hooks.slack.com/services/T/B/x" }).success).toBe(
      false,
    );
    expect(
      notifyEntrySchema.safeParse({ type: "webhook", url: "https://h.example.com", events: ["done"] }).success,
    ).toBe(false);
  });

  it("the signature is HMAC-SHA256 over timestamp, dot, body", () => {
    const expected = createHmac("sha256", "k").update("1700000000.{}").digest("hex");
    expect(signBody("k", "1700000000", "{}")).toBe(`sha256=${expected}`);
  });
});
