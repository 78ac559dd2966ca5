/** A workload's LabelSelector as the API's labelSelector parameter, and which pods the probe asks. */
import { describe, expect, it } from "vitest";
import { isServing, selectorString } from "./workload.js";

describe("selectorString", () => {
  it("writes matchLabels and every matchExpressions operator as kubectl would", () => {
    expect(
      selectorString({
        matchLabels: { app: "web", tier: "api" },
        matchExpressions: [
          { key: "env", operator: "In", values: ["prod", "staging"] },
          { key: "track", operator: "NotIn", values: ["canary"] },
          { key: "team", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist" },
        ],
      }),
    ).toBe("app=web,tier=api,env in (prod,staging),track notin (canary),team,!legacy");
    expect(selectorString(undefined)).toBe("");
  });
});

describe("isServing", () => {
  const ready = { type: "Ready", status: "True" };
  it("asks only Ready pods with an address that are not terminating", () => {
    expect(isServing({ status: { podIP: "10.0.0.5", conditions: [ready] } })).toBe(true);
    expect(isServing({ status: { podIP: "10.0.0.5", conditions: [{ type: "Ready", status: "False" }] } })).toBe(false);
    expect(isServing({ status: { conditions: [ready] } })).toBe(false);
    expect(
      isServing({ metadata: { deletionTimestamp: new Date() }, status: { podIP: "10.0.0.5", conditions: [ready] } }),
    ).toBe(false);
  });
});
