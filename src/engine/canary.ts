/**
 * The first part of step 5, after the writes and the synced stores, before any consumer is reloaded: each
 * consumer's canary (a `kubernetes` consumer's first pods: src/consumer-probes/kubernetes/probe.ts).
 */
import type { Expected } from "../consumer-probes/probe.js";
import { errorMessage } from "../errors.js";
import { consumersTimeoutSeconds, type RunState } from "./steps.js";

/**
 * Canary first: consumers with `canary: N` restart or reload N of their instances and wait until those use the new
 * credential and authenticate, before any other instance is touched (no rollout, no reload). Returns why the run
 * must roll back (a canary that did not make it), or that it was interrupted. Skipped with --revoke-immediately:
 * that revoke waits for no consumer.
 */
export async function canaryStep(state: RunState, expected: Expected): Promise<{ failed?: string; stopped?: boolean }> {
  const { consumers, reporter, loaded } = state.context;
  const canaries = consumers.filter((probe) => probe.canary !== undefined);
  if (canaries.length === 0 || state.mode.revokeImmediately) return {};
  const timeoutSeconds = consumersTimeoutSeconds(state);
  reporter.step(
    `canary first: ${canaries.map((probe) => probe.name).join(", ")} (up to ${timeoutSeconds} s, nothing else touched meanwhile)`,
  );
  const outcomes = await Promise.all(
    canaries.map(async (probe) => {
      const outcome = await probe
        .canary?.({
          runId: state.journal.runId,
          expected,
          direction: "forward",
          timeoutMs: timeoutSeconds * 1000,
          pollMs: loaded.config.verify.consumersPollSeconds * 1000,
          shouldStop: () => state.context.interruption?.signal !== undefined,
          onProgress: (detail) => reporter.info(`${probe.name}: ${detail}`),
        })
        .catch((error: unknown) => ({ outcome: "failed" as const, detail: errorMessage(error), pods: [] }));
      const result = outcome ?? { outcome: "passed" as const, detail: "no canary", pods: [] };
      await state.journal.append({ event: "consumer-canary", consumer: probe.name, ...result });
      if (result.outcome === "passed") reporter.info(`${probe.name}: canary passed: ${result.detail}`);
      else if (result.outcome === "failed") reporter.warn(`${probe.name}: canary failed: ${result.detail}`);
      return { name: probe.name, ...result };
    }),
  );
  const failed = outcomes.filter((outcome) => outcome.outcome === "failed");
  if (failed.length > 0) {
    return {
      failed: failed.map((outcome) => `the canary of consumer "${outcome.name}" failed: ${outcome.detail}`).join("; "),
    };
  }
  return outcomes.some((outcome) => outcome.outcome === "stopped") ? { stopped: true } : {};
}
