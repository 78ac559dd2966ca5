/**
 * The records that mark a step's start and end are journaled in one place, the runner (src/engine/runner.ts),
 * from what the step table declares: no other engine file appends one. A grep-level fact, checked over the
 * `append(...)` calls of every source file under src/engine/.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_STEPS } from "../../src/engine/step-table.js";
import { packageRoot } from "../../src/util/package-root.js";

const engineDir = join(packageRoot(), "src", "engine");

/** The argument text of every `append(...)` call in `code` (parentheses matched). */
function appendArguments(code: string): string[] {
  const found: string[] = [];
  for (const match of code.matchAll(/\bappend(?:Durably)?\(/g)) {
    let depth = 1;
    let at = match.index + match[0].length;
    const start = at;
    while (depth > 0 && at < code.length) {
      if (code[at] === "(") depth++;
      else if (code[at] === ")") depth--;
      at++;
    }
    found.push(code.slice(start, at - 1));
  }
  return found;
}

/** `file: event` for each append in the engine's sources (runner.ts aside) of a record named in `events`. */
async function appendsOf(events: readonly string[], except: string[]): Promise<string[]> {
  const files = (await readdir(engineDir, { recursive: true })).filter(
    (name) => name.endsWith(".ts") && !name.endsWith(".test.ts") && !except.includes(name),
  );
  const found: string[] = [];
  for (const file of files.sort()) {
    const code = await readFile(join(engineDir, file), "utf8");
    for (const argument of appendArguments(code)) {
      for (const event of events) if (argument.includes(`event: "${event}"`)) found.push(`${file}: ${event}`);
    }
  }
  return found;
}

const declared = ALL_STEPS.flatMap((step) => (step.journals === undefined ? [] : [step.journals]));
const boundaryEvents = declared.flatMap((journals) => [journals.start, journals.end]);

describe("a step's start and end records", () => {
  it("the table declares them for the issue, the revoke and the retire", () => {
    expect(ALL_STEPS.filter((step) => step.journals !== undefined).map((step) => [step.id, step.journals])).toEqual([
      ["issue", { start: "issue-started", end: "credential-issued" }],
      ["revoke", { start: "revoke-started", end: "old-credential-revoked" }],
      ["retire-previous", { start: "retire-started", end: "previous-retired" }],
    ]);
  });

  it("are appended by no engine file but the runner (nor are run-started and run-finished)", async () => {
    expect(await appendsOf([...boundaryEvents, "run-started", "run-finished"], ["runner.ts"])).toEqual([]);
  });

  it("the scan sees the appends there are: a store's records in steps.ts, the run's own in runner.ts", async () => {
    // A scan that could not find an append would pass anything.
    expect(await appendsOf(["store-written", "store-retired", "issue-refused"], [])).toEqual([
      "reenter.ts: store-written",
      "retire.ts: store-retired",
      "steps.ts: issue-refused",
      "steps.ts: store-written",
    ]);
    expect(await appendsOf(["run-finished"], [])).toEqual(["runner.ts: run-finished"]);
  });
});
