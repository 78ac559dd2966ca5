/** Human-readable results. Reports (plan, status) go to stdout; the outcome of a run to stderr. */
import type { PlanResult } from "../engine/plan.js";
import type { CommandResult } from "../engine/result.js";
import type { StatusResult } from "../engine/status.js";
import { redact } from "../util/mask.js";

function out(stream: NodeJS.WritableStream, lines: string[]): void {
  stream.write(`${redact(lines.join("\n"))}\n`);
}

function isPlan(result: CommandResult): result is PlanResult {
  return result.command === "plan" && "steps" in result;
}

function isStatus(result: CommandResult): result is StatusResult {
  return result.command === "status" && "runs" in result;
}

export function printHuman(result: CommandResult): void {
  if (isPlan(result)) {
    printPlan(result);
    return;
  }
  if (isStatus(result)) {
    printStatus(result);
    return;
  }
  const lines: string[] = [];
  if (result.runId) lines.push(`run ${result.runId}: ${result.status} (exit ${result.exitCode})`);
  else lines.push(`${result.status === "failed" ? "error" : result.status} (exit ${result.exitCode})`);
  if (result.oldKey || result.newKey)
    lines.push(`  old key ${result.oldKey ?? "(none)"}, new key ${result.newKey ?? "(none)"}`);
  for (const store of result.stores) lines.push(`  store ${store.name} (${store.type}): ${store.outcome}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  if (result.error) lines.push(`  ${result.error.replace(/\n/g, "\n  ")}`);
  if (result.hint) lines.push(`  hint: ${result.hint}`);
  if (result.next) lines.push(`  next: ${result.next}`);
  if (result.journal) lines.push(`  journal: ${result.journal}`);
  out(process.stderr, lines);
}

function printPlan(result: PlanResult): void {
  const lines = ["rotator plan (dry run: nothing was changed)", ""];
  for (const [index, step] of result.steps.entries()) lines.push(`${String(index + 1).padStart(2)}. ${step}`);
  if (result.notes.length > 0) lines.push("", "notes:", ...result.notes.map((n) => `  - ${n}`));
  if (result.problems.length > 0) {
    lines.push("", "rotate would fail now:", ...result.problems.map((p) => `  - ${p}`));
  } else lines.push("", "no problems found: `rotator rotate` would take these steps");
  out(process.stdout, lines);
}

function printStatus(result: StatusResult): void {
  const lines = [
    `current key: ${result.currentKey ?? "(none)"}${result.ageDays === null ? "" : `, ${result.ageDays} days old${result.due ? " (due for rotation)" : ""}`}`,
    `lock: ${result.lock}`,
  ];
  if (result.lock !== "free") {
    for (const lock of result.locks) {
      lines.push(`  store ${lock.store}: ${lock.state}${lock.owner === undefined ? "" : ` by ${lock.owner}`}`);
    }
  }
  for (const problem of result.problems) lines.push(`problem: ${problem}`);
  lines.push(result.runs.length === 0 ? "no runs yet" : "recent runs:");
  for (const run of result.runs) {
    lines.push(`  ${run.runId}  ${run.command}  ${run.status}${run.next ? `  next: ${run.next}` : ""}`);
  }
  out(process.stdout, lines);
}
