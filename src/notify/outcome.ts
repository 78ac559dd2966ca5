/**
 * Which notification a command's result makes, and what it says. A command notifies the events its
 * definition lists (`notifies`: the commands that change stores list every run outcome); a result that
 * changed nothing and needs nothing (not due, nothing to resume, cancelled) notifies no one.
 */
import type { CommandResult } from "../engine/result.js";
import { ExitCode } from "../errors.js";
import { maskSid } from "../util/mask.js";
import type { NotifyPayload } from "./deliver.js";
import type { NotifyEvent } from "./events.js";

/** The event `result` makes, when it is one of those its command notifies (`notifies`, from its definition). */
export function eventForResult(result: CommandResult, notifies: readonly NotifyEvent[]): NotifyEvent | undefined {
  const event = outcomeEvent(result);
  return event !== undefined && notifies.includes(event) ? event : undefined;
}

function outcomeEvent(result: CommandResult): NotifyEvent | undefined {
  if (result.exitCode === ExitCode.needsOperator) return "needs-operator";
  switch (result.status) {
    case "completed":
      return "completed";
    case "rolled-back":
      return "rolled-back";
    case "awaiting-consumers":
      return "awaiting-consumers";
    case "failed":
      return "failed";
    default:
      return undefined;
  }
}

/** The payload of a run's notification: the result's secret-free fields (masked ids, store outcomes). */
export function resultPayload(
  event: NotifyEvent,
  result: CommandResult,
  where: { accountSid: string; configFile: string },
): NotifyPayload {
  const run = result.runId === null ? result.command : `run ${result.runId} (${result.command})`;
  const keys = result.oldKey || result.newKey ? `: ${result.oldKey ?? "(none)"} -> ${result.newKey ?? "(none)"}` : "";
  return {
    event,
    summary: `${run} ${result.status}, exit ${result.exitCode}${keys}`,
    account: maskSid(where.accountSid),
    config: where.configFile,
    details: {
      command: result.command,
      status: result.status,
      exitCode: result.exitCode,
      runId: result.runId,
      oldKey: result.oldKey,
      newKey: result.newKey,
      stores: result.stores,
      consumers: result.consumers.map(({ name, state, convergedAt }) => ({ name, state, convergedAt })),
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(result.hint === undefined ? {} : { hint: result.hint }),
      ...(result.next === undefined ? {} : { next: result.next }),
    },
  };
}
