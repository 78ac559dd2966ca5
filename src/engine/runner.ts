/**
 * The one runner of the step table (step-table.ts): it opens a new run's journal with its `run-started` record,
 * carries a run through its steps, from the top (rotate, sync) or from the step its journal stopped at
 * (resume), and closes the journal with `run-finished` when a step ends the run. Those two records are
 * written here and nowhere else; each step journals its own start and end (what it did, for resume).
 */
import type { EngineContext } from "./context.js";
import { type RunStartedOptions, runStartedEvent } from "./facts.js";
import type { RunJournal } from "./state/backend.js";
import { stateOf } from "./state/index.js";
import type { Step } from "./step-table.js";
import type { RunOutcome, RunState } from "./steps.js";

/** Create the journal of new run `runId`, its first record the run's facts (`run-started`). */
export async function openRun(context: EngineContext, runId: string, started: RunStartedOptions): Promise<RunJournal> {
  const journal = await stateOf(context).createJournal(runId, context.issuer.labels.word);
  await journal.append(runStartedEvent(context, started));
  return journal;
}

/**
 * Run `steps` in order until one ends the run; journal how it ended. The table's last step always ends it.
 * Returns the outcome as the command says it (with what it says beyond the journal: RunOutcome.said).
 */
export async function runSteps(state: RunState, steps: readonly Step[]): Promise<RunOutcome> {
  for (const step of steps) {
    const outcome = await step.run(state);
    if (outcome !== undefined) return closeRun(state, outcome);
  }
  throw new Error(`the steps ${steps.map((step) => step.id).join(", ")} ended without an outcome`);
}

async function closeRun(state: RunState, outcome: RunOutcome): Promise<RunOutcome> {
  const { status, exitCode, error, next, said } = outcome;
  await state.journal.append({
    event: "run-finished",
    status,
    exitCode,
    ...(error === undefined ? {} : { error }),
    ...(next === undefined ? {} : { next }),
  });
  if (said === undefined) return outcome;
  const { said: _said, ...journaled } = outcome;
  return { ...journaled, ...said };
}
