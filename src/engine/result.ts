/** The one result object every command prints with `--json`, and from which the exit code comes. */
import { maskSid } from "../util/mask.js";
import type { RunStatus } from "./journal.js";
import type { RunState, StoreOutcome } from "./steps.js";

export type ResultStatus = RunStatus | "not-due" | "nothing-to-resume" | "planned";

export interface CommandResult {
  command: string;
  status: ResultStatus;
  exitCode: number;
  runId: string | null;
  /** Masked key identifiers, e.g. SK…a1b2. */
  oldKey: string | null;
  newKey: string | null;
  stores: Array<{ name: string; type: string; outcome: StoreOutcome }>;
  /** Per consumer: its last state and when it converged. Absent when none were checked. */
  consumers?: Array<{ name: string; type: string; state: string; detail: string; convergedAt: string | null }>;
  warnings: string[];
  error?: string;
  hint?: string;
  /** What `resume` will do, when the run is not over. */
  next?: string;
  journal?: string;
}

export function resultFromState(
  command: string,
  state: RunState,
  outcome: { status: RunStatus; exitCode: number; error?: string; next?: string },
): CommandResult {
  return {
    command,
    status: outcome.status,
    exitCode: outcome.exitCode,
    runId: state.journal.runId,
    oldKey: state.oldKeyId === undefined ? null : maskSid(state.oldKeyId),
    newKey: state.newKeyId === undefined ? null : maskSid(state.newKeyId),
    stores: state.stores.map((s) => ({ name: s.provider.name, type: s.provider.type, outcome: s.outcome })),
    ...(state.consumers.length === 0
      ? {}
      : {
          consumers: state.consumers.map((c) => ({
            name: c.name,
            type: c.type,
            state: c.report.state,
            detail: c.report.detail,
            convergedAt: c.convergedAt,
          })),
        }),
    warnings: state.warnings,
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.next === undefined ? {} : { next: outcome.next }),
    journal: state.journal.path,
  };
}
