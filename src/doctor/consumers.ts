/**
 * With a config: does each consumer use the credential the stores hold, and authenticate with it? A
 * `kubernetes` consumer is each of its Ready pods, and a finding names the pods that do not. Read-only: the
 * probes only ask (no reload, no restart). Skipped when the stores disagree: there is no one credential to ask
 * about (the drift finding says so).
 */
import type { StoredCredential } from "../../providers/contract.js";
import { credentialId } from "../credentials/stored.js";
import type { EngineContext } from "../engine/context.js";
import { errorMessage } from "../errors.js";
import { type Finding, failed, passed } from "./findings.js";

export async function consumerFindings(
  context: EngineContext,
  current: StoredCredential | undefined,
): Promise<Finding[]> {
  if (current === undefined) return [];
  const expected = { kind: current.kind, id: credentialId(current) };
  return Promise.all(
    context.consumers.map(async (probe): Promise<Finding> => {
      const subject = `consumer "${probe.name}" (${probe.describe()})`;
      const report = await probe
        .check(expected)
        .catch((error: unknown) => ({ state: "unreachable" as const, detail: errorMessage(error), pods: undefined }));
      if (report.state === "converged") return passed("consumer-authenticates", subject, report.detail);
      const lagging = (report.pods ?? []).filter((pod) => pod.state !== "converged" && pod.state !== "not-ready");
      const pods =
        lagging.length === 0 ? "" : ` Pods: ${lagging.map((pod) => `${pod.name} (${pod.state})`).join(", ")}.`;
      return failed("consumer-authenticates", subject, {
        cause: `${report.detail}.${pods}`,
        fix:
          report.state === "unreachable" || report.state === "bad-response"
            ? "make it answer the status contract (see the README's Consumers section), or fix what the message names"
            : "make it re-read its store (reload or restart it); until it does, a rotation waits for it and does not revoke",
        certainty: "certain",
      });
    }),
  );
}
