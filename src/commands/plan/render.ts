/**
 * `rotator plan` for people: the change list (changes.ts) grouped by target, what a failure undoes, the notes
 * once each, whether rotate would fail now, and the count last.
 */
import type { Output } from "../../cli/output.js";
import { FOR_PEOPLE } from "../../engine/index.js";
import type { CommandResult } from "../../engine/read.js";
import { renderRun, renderSandboxLines } from "../shared/render-run.js";
import { countLine, renderChangeList, wrap } from "./changes.js";
import type { PlanResult } from "./run.js";

export function renderPlan(result: PlanResult | CommandResult, output: Output, width = 80): void {
  if (!("steps" in result)) {
    renderRun(result, output);
    return;
  }
  const s = output.out;
  const plan = result[FOR_PEOPLE];
  const lines = [s.bold("rotator plan (dry run: nothing was changed)"), ""];
  lines.push(...renderChangeList({ ...plan, actions: result.actions }, s, width));
  if (result.problems.length > 0) {
    lines.push("", s.fail(`${s.cross} rotate would fail now:`));
    for (const problem of result.problems) lines.push(...wrap(`- ${problem}`, width, "  ", "    "));
  } else {
    lines.push(
      "",
      ...wrap(`${s.tick} no problems found: \`rotator rotate\` would make these changes`, width, "", "  ").map(s.ok),
    );
  }
  lines.push("", ...wrap(countLine(result.summary, plan.changes), width, "", "").map(s.bold));
  lines.push(...renderSandboxLines(result, output));
  output.print(lines);
}
