/**
 * Steps 5 and 6: reload consumers that have a hook, then poll every consumer in parallel until all of them
 * report the new credential and authenticate, or the deadline passes. Polling a condition with a deadline,
 * never a fixed sleep: a fast fleet finishes in one round, a slow one gets the whole budget.
 */
import type { ConsumerProbe, Expected, ProbeReport, ReloadRequest } from "./probe.js";

export interface ConsumerResult {
  name: string;
  type: string;
  report: ProbeReport;
  /** When it was first seen converged (ISO), if it was. */
  convergedAt: string | null;
  reloaded: "ok" | "failed" | "no-hook";
  reloadError?: string;
  /** What the reload did, when it said (a rollout and its generation). */
  reloadDetail?: string;
}

export interface AwaitOptions {
  timeoutMs: number;
  pollMs: number;
  /** Called whenever a consumer's state changes: the live per-consumer progress. */
  onChange?: (result: ConsumerResult) => void;
  /** Called after every round of polls, with the time spent and left: the live block's clock. */
  onRound?: (elapsedMs: number, remainingMs: number) => void;
  /** Asked between rounds: true stops the wait early (an interruption), as if the deadline had passed. */
  shouldStop?: () => boolean;
  /**
   * Asked of a consumer not converged after each of its checks: true stops waiting for it, unconverged (a
   * rollback need not wait for a consumer that cannot hold what it is about to delete).
   */
  done?: (result: ConsumerResult) => boolean;
  /** The run the reloads are for, and whether onto the new credential or back (a rollback). */
  reload?: Omit<ReloadRequest, "expected">;
}

/** Sleep, waking early (every 100 ms at most) once `shouldStop` says so. */
async function sleepUnless(ms: number, shouldStop: (() => boolean) | undefined): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (shouldStop?.()) return;
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(100, until - Date.now())));
  }
}

type ReloadOutcome = { ok: true; detail?: string } | { ok: false; error: string };

export async function reloadAll(probes: ConsumerProbe[], request?: ReloadRequest): Promise<Map<string, ReloadOutcome>> {
  const outcomes = new Map<string, ReloadOutcome>();
  await Promise.all(
    probes.map(async (probe) => {
      if (probe.reload === undefined) return;
      try {
        const detail = await probe.reload(request);
        outcomes.set(probe.name, detail === undefined ? { ok: true } : { ok: true, detail });
      } catch (error) {
        outcomes.set(probe.name, { ok: false, error: (error as Error).message });
      }
    }),
  );
  return outcomes;
}

export async function awaitConsumers(
  probes: ConsumerProbe[],
  expected: Expected,
  options: AwaitOptions,
): Promise<{ converged: boolean; results: ConsumerResult[] }> {
  const reloads = await reloadAll(probes, options.reload === undefined ? undefined : { ...options.reload, expected });
  const results = new Map<string, ConsumerResult>(
    probes.map((probe) => {
      const reload = reloads.get(probe.name);
      return [
        probe.name,
        {
          name: probe.name,
          type: probe.type,
          report: { state: "unreachable", detail: "not checked yet" },
          convergedAt: null,
          reloaded: reload === undefined ? "no-hook" : reload.ok ? "ok" : "failed",
          ...(reload === undefined || reload.ok ? {} : { reloadError: reload.error }),
          ...(reload?.ok && reload.detail !== undefined ? { reloadDetail: reload.detail } : {}),
        },
      ];
    }),
  );
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const checked = new Set<string>();
  const waitingFor = (result: ConsumerResult) =>
    result.convergedAt === null && !(checked.has(result.name) && options.done?.(result) === true);
  for (;;) {
    const pending = probes.filter((probe) => waitingFor(results.get(probe.name)!));
    await Promise.all(
      pending.map(async (probe) => {
        const report = await probe
          .check(expected)
          .catch((error: unknown): ProbeReport => ({ state: "unreachable", detail: (error as Error).message }));
        const previous = results.get(probe.name)!;
        const next: ConsumerResult = {
          ...previous,
          report,
          convergedAt: report.state === "converged" ? new Date().toISOString() : null,
        };
        results.set(probe.name, next);
        checked.add(probe.name);
        if (previous.report.state !== report.state || previous.report.detail !== report.detail)
          options.onChange?.(next);
      }),
    );
    const all = probes.map((probe) => results.get(probe.name)!);
    if (all.every((r) => r.convergedAt !== null)) return { converged: true, results: all };
    if (!all.some(waitingFor)) return { converged: false, results: all };
    options.onRound?.(Date.now() - started, Math.max(0, deadline - Date.now()));
    if (Date.now() + options.pollMs > deadline || options.shouldStop?.()) return { converged: false, results: all };
    await sleepUnless(options.pollMs, options.shouldStop);
  }
}
