/** `rotator status` for people. */

import type { Output } from "../../cli/output.js";
import { credentialNoun } from "../../credentials/registry.js";
import { type CommandResult, describeOrigin } from "../../engine/read.js";
import { renderRun } from "../shared/render-run.js";
import type { StatusResult } from "./run.js";

export function renderStatus(result: StatusResult | CommandResult, output: Output): void {
  if (!("runs" in result)) {
    renderRun(result, output);
    return;
  }
  const s = output.out;
  // Worded from what is known: when it was made, and whether a journaled run made it.
  const origin =
    result.createdAt === null
      ? `${result.ageDays} days old`
      : describeOrigin(new Date(result.createdAt), result.madeByRun ?? undefined);
  const age = result.ageDays === null ? "" : `, ${origin}${result.due ? s.warn(" (due for rotation)") : ""}`;
  const noun = credentialNoun(result.credentialType);
  const unknownAge =
    result.currentKey !== null && result.ageDays === null ? `, age unknown (${result.ageUnknownBecause ?? "?"})` : "";
  const lines = [`current ${noun}: ${result.currentKey ?? "(none)"}${age}${unknownAge}`, `lock: ${result.lock}`];
  if (result.lock !== "free") {
    for (const lock of result.locks) {
      lines.push(`  store ${lock.store}: ${lock.state}${lock.owner === undefined ? "" : ` by ${lock.owner}`}`);
    }
  }
  for (const problem of result.problems) lines.push(s.warn(`problem: ${problem}`));
  // Shared state holds the runs of every host: say where each one ran.
  const shared = result.state?.startsWith("PostgreSQL") ?? false;
  if (shared) lines.push(`state: ${result.state}`);
  lines.push(result.runs.length === 0 ? "no runs yet" : "recent runs:");
  for (const run of result.runs) {
    const host = shared && run.host !== undefined ? `  on ${run.host}` : "";
    lines.push(`  ${run.runId}  ${run.command}  ${run.status}${host}${run.next ? `  next: ${run.next}` : ""}`);
    for (const waiting of run.waitingFor ?? []) lines.push(`    waiting for ${waiting}`);
    if (run.previous !== undefined) lines.push(`    ${run.previous}`);
  }
  if (result.check !== undefined)
    lines.push(`check: ${result.check.state} (exit ${result.exitCode}): ${result.check.summary}`);
  output.print(lines);
}
