/**
 * The one confirmation rule of the commands that change stores (rotate, sync, resume, rollback; their
 * definitions say `changesStores`): on a terminal, without --yes, say what is about to change and ask
 * `[y/N]` before the first change; without a terminal never ask (a cron job or a pipeline goes ahead, as
 * it always has). Anything but y or yes is no (Ctrl-C at the question too): the command ends cancelled
 * (exit 8), having changed nothing.
 */
import { createInterface } from "node:readline/promises";
import type { Output } from "../../cli/output.js";
import type { Runtime } from "../../cli/runtime.js";
import type { ConfirmationSteps } from "../../engine/read.js";
import type { FleetAccount } from "../../fleet/accounts.js";
import { describeAccount } from "../../fleet/units.js";

export type { ConfirmationSteps };

/** Whether there is someone to ask, and they did not say --yes already. */
export function asksFirst(options: { yes?: boolean }, runtime: Runtime): boolean {
  return options.yes !== true && runtime.stdin.isTTY === true && runtime.stderr.isTTY === true;
}

/**
 * Print `lines` (what is about to change) on stderr, then ask; true only for y or yes. Ctrl-C at the question
 * (which a terminal in raw mode hands readline as a key, not as a signal) and the end of input are a no too:
 * without this the question would wait for ever.
 */
export async function askToGoAhead(lines: string[], runtime: Runtime, output: Output): Promise<boolean> {
  output.note(lines);
  const prompt = createInterface({ input: runtime.stdin, output: runtime.stderr, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => {
      prompt.once("SIGINT", () => resolve(""));
      prompt.once("close", () => resolve(""));
      prompt.question(output.err.bold("Go ahead? [y/N] ")).then(resolve, () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** `${command} will:` and its numbered steps, then the question. */
export function askToTakeSteps(
  command: string,
  request: ConfirmationSteps,
  runtime: Runtime,
  output: Output,
): Promise<boolean> {
  const lines = ["", output.err.bold(`${command} will:`), ...request.steps.map((step, i) => `  ${i + 1}. ${step}`)];
  return askToGoAhead(lines, runtime, output);
}

/** A fleet asks once, before any account starts: what it will do, to how many accounts, and the first few. */
export function askForFleet(
  what: string,
  accounts: FleetAccount[],
  runtime: Runtime,
  output: Output,
  footnote: string[] = [],
): Promise<boolean> {
  const shown = accounts.slice(0, 5).map((account) => `  - ${describeAccount(account)}`);
  const more = accounts.length > shown.length ? [`  … and ${accounts.length - shown.length} more`] : [];
  return askToGoAhead(
    ["", output.err.bold(`${what} ${accounts.length} account(s), each on its own:`), ...shown, ...more, ...footnote],
    runtime,
    output,
  );
}
