/**
 * `rotator status` over a fleet: each account's status (its current key, age, locks and last run, read the
 * same way as for one account), printed as one row per account under the counts monitoring cares about.
 * With `--check` the fleet's exit code is the most pressing of its accounts' (unfinished, problems,
 * overdue, due).
 */
import type { Output } from "../../cli/output.js";
import { type AccountResult, type FleetResult, runFleet } from "../../fleet/run.js";
import { type CommandTraits, fleetTraitsOf } from "../shared/define-command.js";
import { accountLabel, fleetFooter, table } from "../shared/render-fleet.js";
import type { FleetCommand } from "../shared/run-config-command.js";
import { CHECK_EXIT_CODES, type StatusResult, status } from "./run.js";

const CHECK_ORDER = [
  CHECK_EXIT_CODES.unfinished,
  CHECK_EXIT_CODES.problems,
  CHECK_EXIT_CODES.overdue,
  CHECK_EXIT_CODES.due,
] as const;

export function fleetStatusCommand(
  definition: CommandTraits,
  options: {
    check: boolean;
    graceDays: number;
  },
): FleetCommand<FleetResult<StatusResult>> {
  return {
    action: async (fleet) => {
      const result = await runFleet(fleetTraitsOf(definition), fleet, (engine) =>
        status(engine, { ...options, limit: 3 }),
      );
      const codes = result.accounts.map((account) => account.exitCode);
      if (!options.check || codes.some((code) => !(Object.values(CHECK_EXIT_CODES) as number[]).includes(code))) {
        return result;
      }
      const exitCode = CHECK_ORDER.find((code) => codes.includes(code)) ?? CHECK_EXIT_CODES.ok;
      return {
        ...result,
        exitCode,
        status: "completed",
        ...(exitCode === 0 ? { error: undefined } : {}),
      } as FleetResult<StatusResult>;
    },
    render: renderFleetStatus,
  };
}

function isStatus(result: AccountResult<StatusResult>): result is AccountResult<StatusResult> & StatusResult {
  return typeof result === "object" && result !== null && "currentKey" in result && "runs" in result;
}

export function renderFleetStatus(result: FleetResult<StatusResult>, output: Output): void {
  const s = output.out;
  const statuses = result.accounts.filter(isStatus);
  const due = statuses.filter((account) => account.due === true).length;
  const unfinished = statuses.filter((account) =>
    account.runs.some((run) => run.status === "interrupted" || run.status === "awaiting-consumers"),
  ).length;
  const problems = statuses.filter((account) => account.problems.length > 0).length;
  const lines = [
    s.bold(
      `fleet of ${result.fleet.accounts} account(s): ${due} due, ${unfinished} with an unfinished run, ${problems} with problems`,
    ),
  ];
  const rows: string[][] = [["account", "key", "age", "lock", "last run"]];
  for (const account of result.accounts) {
    if (!isStatus(account)) {
      rows.push([accountLabel(account), "?", "?", "?", account.error?.split("\n")[0] ?? account.status]);
      continue;
    }
    const last = account.runs.at(-1);
    const run =
      last === undefined
        ? "none"
        : `${last.runId} ${last.command} ${last.status}${last.host ? ` on ${last.host}` : ""}`;
    const age = account.ageDays === null ? "?" : `${account.ageDays}d${account.due ? " (due)" : ""}`;
    rows.push([accountLabel(account), account.currentKey ?? "(none)", age, account.lock, run]);
  }
  lines.push(...table(rows).map((line, index) => `  ${index === 0 ? s.bold(line) : line}`));
  for (const account of statuses) {
    for (const problem of account.problems) lines.push(s.warn(`  problem: ${accountLabel(account)}: ${problem}`));
  }
  lines.push(...fleetFooter(result, s));
  output.print(lines);
}
