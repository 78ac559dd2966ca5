/**
 * The one runner of the step table (step-table.ts): it opens a new run's journal with its `run-started` record,
 * carries a run through its steps, from the top (rotate, sync) or from the step its journal stopped at
 * (resume), and closes the journal with `run-finished` when a step ends the run. Those two records are
 * written here and nowhere else. So are the records that mark a step's start and end where the step table
 * declares them (`issue-started` … `credential-issued`, `revoke-started` … `old-credential-revoked`,
 * `retire-started` … `previous-retired`): a journaled step (`journaled` below) says what goes in them, the runner
 * appends them. What a step journals inside (each store's records, a stray key discarded) stays the step's.
 */
import type { EngineContext } from "./context.js";
import { type RunStartedOptions, runStartedEvent } from "./facts.js";
import type { JournalEvent } from "./journal.js";
import type { RunJournal } from "./state/backend.js";
import { stateOf } from "./state/index.js";
import type { StepRun } from "./step-runs.js";
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

/** The name of a journal record (`issue-started`). */
export type JournalEventName = JournalEvent["event"];

/** What a record of this name holds besides its name. */
export type RecordData<Name extends JournalEventName> = Omit<Extract<JournalEvent, { event: Name }>, "event">;

/** The records that mark a step's start and its end, as the step table declares them. */
export interface StepJournals<Start extends JournalEventName, End extends JournalEventName> {
  readonly start: Start;
  readonly end: End;
}

/**
 * A step whose start and end the runner journals. `begin` decides, before anything is journaled, whether the
 * step runs: `{ outcome }` skips it (undefined: go on; else the run ends so), `{ start }` is the start record's
 * data. `body` does the work between the two records and returns what the end record is made from (`end`);
 * `after` follows the end record. A failure after `begin` (the records' appends included) is `failed`'s to end.
 */
export interface JournaledRun<Start extends JournalEventName, End extends JournalEventName, Done> {
  begin(state: RunState): Promise<{ outcome: RunOutcome | undefined } | { start: RecordData<Start> }>;
  body(state: RunState): Promise<Done>;
  end(state: RunState, done: Done): RecordData<End>;
  after(state: RunState, done: Done): Promise<RunOutcome | undefined>;
  failed(state: RunState, error: unknown): Promise<RunOutcome>;
}

/** The step's run, its start and end records appended here (the one place they are). */
export function journaled<Start extends JournalEventName, End extends JournalEventName, Done>(
  journals: StepJournals<Start, End>,
  step: JournaledRun<Start, End, Done>,
): StepRun {
  return async (state) => {
    const begun = await step.begin(state);
    if ("outcome" in begun) return begun.outcome;
    try {
      await state.journal.append(record(journals.start, begun.start));
      const done = await step.body(state);
      await state.journal.append(record(journals.end, step.end(state, done)));
      return await step.after(state, done);
    } catch (error) {
      return step.failed(state, error);
    }
  };
}

function record<Name extends JournalEventName>(event: Name, data: RecordData<Name>): JournalEvent {
  // The name and the data of one member of the union: TypeScript cannot see that their spread is that member.
  return { event, ...data } as Extract<JournalEvent, { event: Name }>;
}
