/**
 * A fleet's result for people, on stdout after the progress on stderr: the outcome, a table with one row
 * per account (its status, exit code and keys; the first line of its error under it), then the counts and
 * what to do next. `plan` and `status` print a summary instead of a thousand plans (see their renderers).
 */
import type { Output, Style } from "../../cli/output.js";
import type { CommandResult } from "../../engine/read.js";
import { formatDuration } from "../../fleet/progress.js";
import type { AccountResult, FleetResult } from "../../fleet/run.js";
import { oneLine } from "../../fleet/run.js";
import { CANCELLED_MARK } from "./render-run.js";

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** `AC…1234 (cust-17)`. */
export function accountLabel(account: { account: string; friendlyName: string | null }): string {
  return account.friendlyName === null ? account.account : `${account.account} (${account.friendlyName})`;
}

export function fleetHeadline(result: FleetResult, s: Style, what: string): string {
  if (result.status === "cancelled") {
    return `${s.warn(CANCELLED_MARK)} ${s.bold(`fleet ${what}: cancelled at the prompt, nothing was changed (exit ${result.exitCode})`)}`;
  }
  const ok = result.exitCode === 0;
  const { accounts, succeeded } = result.fleet;
  const counts = ok ? `${accounts} account(s)` : `${succeeded} of ${accounts} account(s) succeeded`;
  return `${ok ? s.ok(s.tick) : s.fail(s.cross)} ${s.bold(`fleet ${what}: ${counts} (exit ${result.exitCode})`)}`;
}

export function fleetFooter(result: FleetResult, s: Style): string[] {
  const f = result.fleet;
  const byStatus = Object.entries(f.byStatus)
    .map(([status, count]) => `${count} ${status}`)
    .join(", ");
  const lines = [
    `  ${byStatus || "no account ran"}${f.notStarted > 0 ? `, ${f.notStarted} not started` : ""}`,
    s.dim(
      `  ${formatDuration(f.elapsedMs)}; ${f.requests} Twilio request(s), ${f.throttled} answered 429${f.throttled > 0 ? ` (down to ${f.lowestConcurrency} account(s) at once)` : ""}`,
    ),
  ];
  if (result.error) lines.push(`  ${s.fail("error:")} ${result.error}`);
  if (result.hint) lines.push(`  hint: ${result.hint}`);
  if (result.status === "cancelled" && result.next) lines.push(`  ${s.bold("next:")} ${result.next}`);
  return lines;
}

function keys(result: CommandResult): string {
  if (!result.oldKey && !result.newKey) return "";
  return `${result.oldKey ?? "(none)"} -> ${result.newKey ?? "(none)"}`;
}

/** rotate, resume, rollback over a fleet. */
export function renderFleetRun(result: FleetResult, output: Output): void {
  const s = output.out;
  const lines = [fleetHeadline(result, s, result.command)];
  const rows: string[][] = [["account", "name", "status", "exit", "keys"]];
  const errors = new Map<number, string>();
  result.accounts.forEach((account: AccountResult) => {
    rows.push([account.account, account.friendlyName ?? "-", account.status, String(account.exitCode), keys(account)]);
    if (account.exitCode !== 0 && account.error) errors.set(rows.length - 1, oneLine(account.error));
  });
  table(rows).forEach((line, index) => {
    lines.push(`  ${index === 0 ? s.bold(line) : line}`);
    const error = errors.get(index);
    if (error !== undefined) lines.push(s.warn(`      ${error}`));
  });
  lines.push(...fleetFooter(result, s));
  // A fleet cancelled at the prompt started no account: there is nothing to resume.
  if (result.exitCode !== 0 && result.status !== "cancelled") {
    lines.push(
      `  ${s.bold("next:")} \`rotator resume\` with this config finishes every account left unfinished; \`rotator status\` shows each`,
    );
  }
  output.print(lines);
}
