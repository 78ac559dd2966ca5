/**
 * The question rotate asks on a terminal before it changes anything: the plan, anything worth a second
 * thought (a credential made less than a day ago), and `[y/N]` (shared/confirm.ts: anything but yes
 * changes nothing).
 */
import type { Output } from "../../cli/output.js";
import type { Runtime } from "../../cli/runtime.js";
import type { FleetAccount } from "../../fleet/accounts.js";
import { countLine, renderChangeList, terminalWidth, wrap } from "../plan/changes.js";
import { askForFleet, askToGoAhead } from "../shared/confirm.js";
import type { ConfirmationRequest } from "./run.js";

export function askToConfirm(request: ConfirmationRequest, runtime: Runtime, output: Output): Promise<boolean> {
  const s = output.err;
  const width = terminalWidth(runtime.stderr, runtime.env);
  const lines = ["", s.bold("rotate will:"), "", ...renderChangeList(request, s, width)];
  if (request.warnings.length > 0) lines.push("");
  for (const warning of request.warnings) lines.push(...wrap(`warning: ${warning}`, width, "  ", "    ").map(s.warn));
  lines.push("", ...wrap(countLine(request.summary, request.changes), width, "", "").map(s.bold));
  return askToGoAhead(lines, runtime, output);
}

/** A fleet asks once, before any account starts: how many, and the first few. */
export function askToConfirmFleet(accounts: FleetAccount[], runtime: Runtime, output: Output): Promise<boolean> {
  return askForFleet("rotate will rotate the API key of", accounts, runtime, output, [
    "",
    "(`rotator plan` shows each account's checks first)",
  ]);
}
