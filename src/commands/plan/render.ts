/** `rotator plan` for people: the numbered steps, a count, notes, and whether rotate would fail now. */
import type { Output } from "../../cli/output.js";
import type { CommandResult } from "../../engine/result.js";
import { renderRun, renderSandboxLines } from "../shared/render-run.js";
import type { PlanResult } from "./run.js";

export function renderPlan(result: PlanResult | CommandResult, output: Output): void {
  if (!("steps" in result)) {
    renderRun(result, output);
    return;
  }
  const s = output.out;
  const lines = [s.bold("rotator plan (dry run: nothing was changed)"), ""];
  for (const [index, step] of result.steps.entries()) lines.push(`${String(index + 1).padStart(2)}. ${step}`);
  lines.push("", `${s.bold("plan:")} ${result.summary}`);
  if (result.notes.length > 0) lines.push("", "notes:", ...result.notes.map((n) => `  - ${n}`));
  if (result.problems.length > 0) {
    lines.push("", s.fail(`${s.cross} rotate would fail now:`), ...result.problems.map((p) => `  - ${p}`));
  } else lines.push("", s.ok(`${s.tick} no problems found: \`rotator rotate\` would take these steps`));
  lines.push(...renderSandboxLines(result, output));
  output.print(lines);
}
