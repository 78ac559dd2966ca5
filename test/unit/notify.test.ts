/** Which notification a result makes, the payload's shape, Slack's message, and the signature receivers check. */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { emptyResult } from "../../src/engine/result.js";
import { ExitCode } from "../../src/errors.js";
import { describeTarget, signBody, slackMessage } from "../../src/notify/deliver.js";
import { eventForResult, resultPayload } from "../../src/notify/outcome.js";
import { notifyEntrySchema } from "../../src/notify/schema.js";

describe("eventForResult", () => {
  it("maps every outcome of rotate, resume and rollback; other commands and quiet outcomes notify no one", () => {
    const r = (command: string, status: Parameters<typeof emptyResult>[1], code: number) =>
      emptyResult(command, status, code);
    expect(eventForResult(r("rotate", "completed", 0))).toBe("completed");
    expect(eventForResult(r("resume", "completed", 0))).toBe("completed");
    expect(eventForResult(r("rotate", "rolled-back", ExitCode.rolledBack))).toBe("rolled-back");
    expect(eventForResult(r("rollback", "rolled-back", 0))).toBe("rolled-back");
    expect(eventForResult(r("rotate", "awaiting-consumers", ExitCode.awaitingConsumers))).toBe("awaiting-consumers");
    expect(eventForResult(r("rotate", "failed", ExitCode.badInput))).toBe("failed");
    expect(eventForResult(r("resume", "failed", ExitCode.needsOperator))).toBe("needs-operator");
    expect(eventForResult(r("rotate", "rolled-back", ExitCode.needsOperator))).toBe("needs-operator");
    expect(eventForResult(r("rotate", "not-due", 0))).toBeUndefined();
    expect(eventForResult(r("resume", "nothing-to-resume", 0))).toBeUndefined();
    expect(eventForResult(r("rotate", "cancelled", ExitCode.interrupted))).toBeUndefined();
    expect(eventForResult(r("plan", "failed", ExitCode.badInput))).toBeUndefined();
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
