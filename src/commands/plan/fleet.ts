/**
 * `rotator plan` over a fleet: each account's own plan (the same preflight rotate runs for it), kept as a
 * summary per account (its count of changes, problems and notes, not its steps), and printed as the count,
 * the first few accounts, and every account rotate would fail on.
 */
import type { Output } from "../../cli/output.js";
import { type FleetResult, runFleet } from "../../fleet/run.js";
import { type CommandTraits, fleetTraitsOf } from "../shared/define-command.js";
import { accountLabel, fleetFooter, fleetHeadline } from "../shared/render-fleet.js";
import type { FleetCommand } from "../shared/run-config-command.js";
import { type PlanResult, plan } from "./run.js";

/** One account's plan without its steps (every account's steps are the same shape; `plan` on it shows them). */
export type AccountPlan = Omit<PlanResult, "steps" | "actions">;

const SHOWN = 5;

export function fleetPlanCommand(
  definition: CommandTraits,
  options: {
    emergency: boolean;
    allowSharedRevoke: boolean;
  },
): FleetCommand<FleetResult<AccountPlan>> {
  return {
    action: (fleet) =>
      runFleet(fleetTraitsOf(definition), fleet, async (engine) => {
        const { steps: _steps, actions: _actions, ...summary } = await plan(engine, options);
        return summary;
      }),
    render: renderFleetPlan,
  };
}

function isPlan(result: unknown): result is AccountPlan {
  return typeof result === "object" && result !== null && "summary" in result && "problems" in result;
}

export function renderFleetPlan(result: FleetResult<AccountPlan>, output: Output): void {
  const s = output.out;
  const lines = [s.bold(`rotator plan (dry run: nothing was changed): a fleet of ${result.fleet.accounts} account(s)`)];
  const name = accountLabel;
  for (const account of result.accounts.slice(0, SHOWN)) {
    lines.push(`  ${name(account)}: ${isPlan(account) ? account.summary : (account.error ?? account.status)}`);
  }
  if (result.accounts.length > SHOWN) lines.push(`  … and ${result.accounts.length - SHOWN} more`);
  const failing = result.accounts.filter((account) => account.exitCode !== 0);
  if (failing.length > 0) {
    lines.push("", s.fail(`${s.cross} rotate would fail now for ${failing.length} account(s):`));
    for (const account of failing) {
      const problems = isPlan(account) && account.problems.length > 0 ? account.problems : [account.error ?? "?"];
      lines.push(`  - ${name(account)}: ${problems.join("; ").replace(/\n\s*/g, " ")}`);
    }
  } else {
    lines.push("", s.ok(`${s.tick} no problems found: \`rotator rotate\` would rotate each of these accounts`));
  }
  lines.push("", fleetHeadline(result, s, "plan"), ...fleetFooter(result, s));
  output.print(lines);
}
