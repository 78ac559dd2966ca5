/**
 * The fleet side of rotate, resume and rollback: the same per-account core as for one account, run over
 * every account of the fleet (fleet/run.ts) as the command's definition says, printed as one table
 * (render-fleet.ts).
 */
import type { CommandResult, EngineContext } from "../../engine/read.js";
import { type FleetOptions, type FleetResult, runFleet } from "../../fleet/run.js";
import { type CommandTraits, fleetTraitsOf } from "./define-command.js";
import { renderFleetRun } from "./render-fleet.js";
import type { FleetCommand, RunHelpers } from "./run-config-command.js";

export function fleetRunCommand<R extends CommandResult>(
  definition: CommandTraits,
  perAccount: (context: EngineContext) => Promise<R>,
  options: (helpers: RunHelpers) => FleetOptions = () => ({}),
): FleetCommand<FleetResult<R>> {
  return {
    action: (fleet, helpers) => runFleet(fleetTraitsOf(definition), fleet, perAccount, options(helpers)),
    render: (result, output) => renderFleetRun(result, output),
  };
}
