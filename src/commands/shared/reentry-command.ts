/**
 * resume and rollback from the command line: each re-enters this config's unfinished run (or, over a fleet,
 * every account's), asking first on a terminal as every command that changes stores does (confirm.ts).
 */
import type { CommandResult, EngineContext } from "../../engine/read.js";
import type { CommonOptions } from "./command-context.js";
import { askForFleet, asksFirst, askToTakeSteps, type ConfirmationSteps } from "./confirm.js";
import type { Invocation } from "./define-command.js";
import { fleetRunCommand } from "./fleet-command.js";
import { renderRun } from "./render-run.js";
import { runConfigCommand } from "./run-config-command.js";

export async function runReentryCommand(
  { options, context, definition }: Invocation<CommonOptions & { yes?: boolean }>,
  reenter: (
    engine: EngineContext,
    confirm: ((request: ConfirmationSteps) => Promise<boolean>) | undefined,
  ) => Promise<CommandResult>,
  /** The fleet's question, before its count of accounts: "resume will finish the runs left unfinished of". */
  fleetQuestion: string,
): Promise<void> {
  const { runtime } = context;
  const interactive = asksFirst(options, runtime);
  await runConfigCommand({
    definition,
    options,
    context,
    action: (engine, { output }) =>
      reenter(engine, interactive ? (request) => askToTakeSteps(definition.name, request, runtime, output) : undefined),
    render: renderRun,
    // A fleet asks once, for every account, before any starts.
    fleet: fleetRunCommand(
      definition,
      (engine) => reenter(engine, undefined),
      ({ output }) =>
        interactive ? { confirm: (accounts) => askForFleet(fleetQuestion, accounts, runtime, output) } : {},
    ),
  });
}
