/**
 * The question rotate asks on a terminal before it changes anything: the plan, anything worth a second
 * thought (a credential rotated less than a day ago), and `[y/N]`. Anything but yes changes nothing.
 */
import { createInterface } from "node:readline/promises";
import type { Output } from "../../cli/output.js";
import type { Runtime } from "../../cli/runtime.js";
import type { FleetAccount } from "../../fleet/accounts.js";
import { describeAccount } from "../../fleet/units.js";
import { countLine, renderChangeList, terminalWidth, wrap } from "../plan/changes.js";
import type { ConfirmationRequest } from "./run.js";

export async function askToConfirm(request: ConfirmationRequest, runtime: Runtime, output: Output): Promise<boolean> {
  const s = output.err;
  const width = terminalWidth(runtime.stderr, runtime.env);
  const lines = ["", s.bold("rotate will:"), "", ...renderChangeList(request, s, width)];
  if (request.warnings.length > 0) lines.push("");
  for (const warning of request.warnings) lines.push(...wrap(`warning: ${warning}`, width, "  ", "    ").map(s.warn));
  lines.push("", ...wrap(countLine(request.summary, request.changes), width, "", "").map(s.bold));
  output.note(lines);
  const prompt = createInterface({ input: runtime.stdin, output: runtime.stderr, terminal: true });
  try {
    const answer = await prompt.question(s.bold("Go ahead? [y/N] "));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** A fleet asks once, before any account starts: how many, and the first few. */
export async function askToConfirmFleet(accounts: FleetAccount[], runtime: Runtime, output: Output): Promise<boolean> {
  const s = output.err;
  const shown = accounts.slice(0, 5).map((account) => `  - ${describeAccount(account)}`);
  const more = accounts.length > shown.length ? [`  … and ${accounts.length - shown.length} more`] : [];
  output.note([
    "",
    s.bold(`rotate will rotate the API key of ${accounts.length} account(s), each on its own:`),
    ...shown,
    ...more,
    "",
    "(`rotator plan` shows each account's checks first)",
  ]);
  const prompt = createInterface({ input: runtime.stdin, output: runtime.stderr, terminal: true });
  try {
    const answer = await prompt.question(s.bold("Go ahead? [y/N] "));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
