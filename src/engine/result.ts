/** The one result object every command prints with `--json`, and from which the exit code comes. */
import { maskSid } from "../util/mask.js";
import type { AdminDependent } from "./admin-dependents.js";
import type { RunStatus } from "./journal.js";
import type { RunState, StoreOutcome } from "./steps.js";

export type ResultStatus = RunStatus | "not-due" | "nothing-to-resume" | "planned" | "cancelled";

/** The version of the `--json` result's shape: bumped when a field changes meaning or goes away. */
export const RESULT_SCHEMA_VERSION = 1;

export interface ConsumerOutcome {
  name: string;
  type: string;
  state: string;
  detail: string;
  convergedAt: string | null;
}

export interface CommandResult {
  command: string;
  status: ResultStatus;
  exitCode: number;
  runId: string | null;
  /** What was rotated: `api-key` or `auth-token` (absent before a config was read). */
  credentialType?: string;
  /** The old and new credential, masked: a key SID (`SK…a1b2`) or a token fingerprint (`9f…7d65`). */
  oldCredential?: string | null;
  newCredential?: string | null;
  /** The same, under the names rotator 0.1 gave them (kept for scripts reading `--json`). */
  oldKey: string | null;
  newKey: string | null;
  stores: Array<{ name: string; type: string; outcome: StoreOutcome }>;
  /** Per consumer: its last state and when it converged; empty when none were checked. */
  consumers: ConsumerOutcome[];
  warnings: string[];
  error?: string;
  hint?: string;
  /** What `resume` will do, when the run is not over. */
  next?: string;
  journal?: string;
  /**
   * resume/rollback: every way the config they were invoked with differs from the run's facts (engine/facts.ts),
   * in words; absent when it does not.
   */
  configDifferences?: string[];
  /** resume/rollback: consumers the run started with that it no longer waits for (`--drop-consumer`). */
  droppedConsumers?: string[];
  /**
   * An Auth Token rotation: the other configs (known to this state's journals) whose admin credential is this
   * account's token; after the promote, whether each holds the dead one (engine/admin-dependents.ts).
   */
  adminDependents?: AdminDependent[];
  /**
   * A type that keeps its previous credential beside the new one in the stores (an Auth Token, for webhooks across
   * the promote): the previous one, masked, and whether every store still keeps it (`kept`: the retire is pending,
   * and `resume` does it) or it is `retired` from every store; the stores it is retired from; in an emergency, what
   * retiring it right after the promote costs.
   */
  previous?: PreviousOutcome;
  /** `--sandbox` only: the sandbox's own check of the outcome (see src/sandbox/). */
  sandbox?: unknown;
}

export interface PreviousOutcome {
  credential: string;
  status: "kept" | "retired";
  retiredFrom: string[];
  keepSeconds: number;
  cost?: string;
}

/** Where the previous credential stands, for a run whose stores keep it. */
function previousOutcome(state: RunState & { kept: NonNullable<RunState["kept"]> }): PreviousOutcome {
  return {
    credential: maskSid(state.kept.previousId),
    status: state.previousRetired === true ? "retired" : "kept",
    retiredFrom: state.stores.filter((s) => s.retired === true).map((s) => s.provider.name),
    keepSeconds: state.kept.keepSeconds,
    ...(state.kept.cost === undefined ? {} : { cost: state.kept.cost }),
  };
}

export function resultFromState(
  command: string,
  state: RunState,
  outcome: { status: RunStatus; exitCode: number; error?: string; next?: string; hint?: string },
): CommandResult {
  return {
    command,
    status: outcome.status,
    exitCode: outcome.exitCode,
    runId: state.journal.runId,
    credentialType: state.context.loaded.config.credential.type,
    oldCredential: state.oldId === undefined ? null : maskSid(state.oldId),
    newCredential: state.newId === undefined ? null : maskSid(state.newId),
    oldKey: state.oldId === undefined ? null : maskSid(state.oldId),
    newKey: state.newId === undefined ? null : maskSid(state.newId),
    stores: state.stores.map((s) => ({ name: s.provider.name, type: s.provider.type, outcome: s.outcome })),
    consumers: state.consumers.map((c) => ({
      name: c.name,
      type: c.type,
      state: c.report.state,
      detail: c.report.detail,
      convergedAt: c.convergedAt,
    })),
    warnings: state.warnings,
    ...(state.adminDependents === undefined ? {} : { adminDependents: state.adminDependents }),
    ...(state.kept === undefined ? {} : { previous: previousOutcome({ ...state, kept: state.kept }) }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.hint === undefined ? {} : { hint: outcome.hint }),
    ...(outcome.next === undefined ? {} : { next: outcome.next }),
    journal: state.journal.path,
  };
}

/** A result for a command that ended before any run existed (bad input, a lock, an interruption). */
export function emptyResult(
  command: string,
  status: ResultStatus,
  exitCode: number,
  extra: Partial<Pick<CommandResult, "error" | "hint" | "next" | "oldKey" | "warnings">> = {},
): CommandResult {
  return {
    command,
    status,
    exitCode,
    runId: null,
    oldKey: null,
    newKey: null,
    stores: [],
    consumers: [],
    warnings: [],
    ...extra,
  };
}
