/**
 * The human summary of a command that ran (or tried to run) a rotation: on stdout, after the progress on
 * stderr. Outcome first, then each store and consumer, then what to do next.
 */

import type { Output } from "../../cli/output.js";
import { credentialNoun } from "../../credentials/registry.js";
import type { CommandResult } from "../../engine/read.js";
import type { SandboxSummary } from "../../sandbox/index.js";

const GOOD = new Set(["completed", "not-due", "nothing-to-resume", "planned"]);

/** A cancellation is neither a success nor an error: its own mark. */
export const CANCELLED_MARK = "-";

export function renderRun(result: CommandResult, output: Output): void {
  // A command that stopped before any run (bad input, a lock, nothing confirmed) reports on stderr, like
  // any CLI's error: `rotator plan > plan.txt` still shows it. A run's summary, however it ended, is the
  // result, on stdout.
  const toStderr = result.runId === null && result.exitCode !== 0;
  const s = toStderr ? output.err : output.out;
  const lines: string[] = [];
  // Rolled back on request (rollback) succeeded; a rotation that had to roll back exits 3.
  const good = GOOD.has(result.status) || (result.status === "rolled-back" && result.exitCode === 0);
  const cancelled = result.status === "cancelled";
  const mark = good ? s.ok(s.tick) : cancelled ? s.warn(CANCELLED_MARK) : s.fail(s.cross);
  const headline = cancelled
    ? `cancelled: you did not confirm, so nothing was changed (exit ${result.exitCode})`
    : result.runId
      ? `run ${result.runId}: ${result.status} (exit ${result.exitCode})`
      : `${result.status === "failed" ? "error" : result.status} (exit ${result.exitCode})`;
  lines.push(`${mark} ${s.bold(headline)}`);
  const noun = credentialNoun(result.credentialType);
  if (result.oldKey || result.newKey) {
    lines.push(`  old ${noun} ${result.oldKey ?? "(none)"}, new ${noun} ${result.newKey ?? "(none)"}`);
  }
  for (const store of result.stores) lines.push(`  store ${store.name} (${store.type}): ${store.outcome}`);
  if (result.previous !== undefined) {
    const { previous } = result;
    lines.push(
      previous.status === "retired"
        ? `  previous ${noun} ${previous.credential}: retired from every store`
        : `  previous ${noun} ${previous.credential}: kept in the stores beside the new one${previous.retiredFrom.length > 0 ? ` (retired from ${previous.retiredFrom.join(", ")} only)` : ""}`,
    );
    if (previous.cost !== undefined)
      lines.push(s.warn(`  retired right after the promote (--emergency): ${previous.cost}`));
  }
  for (const consumer of result.consumers) {
    const converged = consumer.convergedAt !== null;
    lines.push(`  consumer ${consumer.name}: ${converged ? s.ok(s.tick) : s.warn(s.ellipsis)} ${consumer.detail}`);
  }
  if (result.configDifferences !== undefined && result.configDifferences.length > 0) {
    lines.push("  this config differs from the run's facts (the run's are used):");
    for (const difference of result.configDifferences) lines.push(`    - ${difference}`);
  }
  if (result.droppedConsumers !== undefined && result.droppedConsumers.length > 0) {
    lines.push(`  consumers dropped from the run (--drop-consumer): ${result.droppedConsumers.join(", ")}`);
  }
  for (const warning of result.warnings) lines.push(s.warn(`  warning: ${warning}`));
  if (result.error) lines.push(`  ${good ? "" : s.fail("error: ")}${result.error.replace(/\n/g, "\n  ")}`);
  if (result.hint) lines.push(`  hint: ${result.hint}`);
  if (result.next) lines.push(`  ${s.bold("next:")} ${result.next}`);
  if (result.journal) lines.push(s.dim(`  journal: ${result.journal}`));
  lines.push(...renderSandboxLines(result, output));
  if (toStderr) output.note(lines);
  else output.print(lines);
}

/** The sandbox's own check of a result, when the command ran on the sandbox. */
export function renderSandboxLines(result: CommandResult, output: Output): string[] {
  return isSandboxSummary(result.sandbox) ? renderSandbox(result.sandbox, output) : [];
}

function isSandboxSummary(value: unknown): value is SandboxSummary {
  return typeof value === "object" && value !== null && "checks" in value;
}

function renderSandbox(summary: SandboxSummary, output: Output): string[] {
  const s = output.out;
  const lines = ["", s.bold("sandbox, checked independently of the engine:"), ...summary.checks.map((c) => `  ${c}`)];
  if (summary.apps.length > 0) {
    lines.push(
      s.bold(
        summary.webhooks
          ? "apps calling Twilio and taking its webhooks during the run:"
          : "apps calling Twilio during the run:",
      ),
    );
    for (const app of summary.apps) {
      const refused = app.refused === 0 ? s.ok(`${app.refused} got 20003`) : s.fail(`${app.refused} got 20003`);
      const rejected = `${app.webhooksRejected} rejected`;
      const webhooks = summary.webhooks
        ? `; ${app.webhooksReceived} webhooks received, ${app.webhooksRejected === 0 ? s.ok(rejected) : s.fail(rejected)}`
        : "";
      lines.push(`  ${app.name}: ${app.requests} requests, ${refused}${webhooks}`);
    }
  }
  lines.push("", s.bold("next, for a real setup:"), ...summary.next.map((n) => `  ${n}`));
  return lines;
}
