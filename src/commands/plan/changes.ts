/**
 * A plan as a change list people can scan, like `terraform plan`: a legend, the changes grouped by what they act
 * on (the Twilio account, each store, each consumer), one symbol each (`+` create, `~` update, `-` revoke, `?`
 * wait or check), masked `from → to`, wrapped to the terminal, then what a failure undoes, the notes once each,
 * and the count last. Used by `rotator plan` and by rotate's question before it changes anything.
 */
import { stripVTControlCharacters } from "node:util";
import type { Environment, Stream, Style } from "../../cli/output.js";
import type { PlanChange, PlanTarget } from "../../engine/index.js";

/** COLUMNS when set (a person or a test asking for a width), else the terminal's, else 80. */
export function terminalWidth(stream: Stream, env: Environment): number {
  const asked = Number(env.COLUMNS);
  if (Number.isInteger(asked) && asked > 0) return Math.max(asked, MIN_WIDTH);
  if (stream.isTTY === true && stream.columns !== undefined && stream.columns > 0) {
    return Math.max(stream.columns, MIN_WIDTH);
  }
  return 80;
}

/** Below this a hanging indent leaves too little room to read. */
const MIN_WIDTH = 30;
const INDENT = "  ";
const HANG = "      ";

export interface ChangeListInput {
  /** The JSON plan's steps: the preflight's words come from there. */
  actions: Array<{ action: string; description: string }>;
  changes: PlanChange[];
  onFailure: string;
  storeNotes: Record<string, string[]>;
  notes: string[];
}

/** The grouped change list, wrapped to `width`; the caller adds its heading and the count line. */
export function renderChangeList(plan: ChangeListInput, style: Style, width: number): string[] {
  const preflight = plan.actions.find((action) => action.action === "preflight")?.description;
  const lines = preflight === undefined ? [] : [...wrap(preflight, width, "", INDENT), ""];
  lines.push(...legend(style, width));
  for (const [header, changes] of groupByTarget(plan.changes)) {
    lines.push("", ...wrap(header, width, "", INDENT).map((line, index) => (index === 0 ? style.bold(line) : line)));
    for (const change of changes) {
      const fromTo = describeFromTo(change);
      const text = `${change.symbol} ${fromTo === "" ? "" : `${fromTo}: `}${change.what}`;
      const [first = "", ...rest] = wrap(text, width, INDENT, HANG);
      lines.push(colorSymbol(first, change.symbol, style), ...rest);
    }
    // A store's notes, once, under the store (not on each of its steps, nor in a list far from it).
    const store = changes[0]?.target.kind === "store" ? changes[0].target.name : undefined;
    for (const note of store === undefined ? [] : (plan.storeNotes[store] ?? [])) {
      lines.push(...wrap(`note: ${note}`, width, INDENT, HANG).map((line) => style.dim(line)));
    }
  }
  if (plan.onFailure !== "") lines.push("", ...wrap(plan.onFailure, width, "", INDENT));
  if (plan.notes.length > 0) {
    lines.push("", "notes:");
    for (const note of plan.notes) lines.push(...wrap(`- ${note}`, width, INDENT, `${INDENT}  `));
  }
  return lines;
}

/** The count, last: terraform's "Plan: 1 to add, 2 to change, 1 to destroy." in rotator's words. */
export function countLine(summary: string, changes: PlanChange[]): string {
  const waits = changes.filter((change) => change.symbol === "?").length;
  return `plan: ${summary}${waits === 0 ? "" : `, ${waits} to wait for or check`}.`;
}

/** `+ create  ~ update  - revoke  ? wait or check`, never split inside an entry. */
function legend(style: Style, width: number): string[] {
  const entries: Array<[string, string]> = [
    [style.ok("+"), "create"],
    [style.warn("~"), "update"],
    [style.fail("-"), "revoke"],
    [style.dim("?"), "wait or check (changes nothing)"],
  ];
  const lines: string[] = [];
  let line = "";
  for (const [symbol, word] of entries) {
    const entry = `${symbol} ${word}`;
    if (line !== "" && visibleLength(line) + 2 + visibleLength(entry) > width) {
      lines.push(line);
      line = "";
    }
    line = line === "" ? entry : `${line}  ${entry}`;
  }
  return [...lines, line];
}

function colorSymbol(line: string, symbol: PlanChange["symbol"], style: Style): string {
  const at = INDENT.length;
  const paint = { "+": style.ok, "~": style.warn, "-": style.fail, "?": style.dim }[symbol];
  return `${line.slice(0, at)}${paint(symbol)}${line.slice(at + 1)}`;
}

function describeFromTo(change: PlanChange): string {
  if (change.from !== null && change.to !== null) return `${change.from} → ${change.to}`;
  return change.to ?? change.from ?? "";
}

function headerOf(target: PlanTarget): string {
  const what =
    target.kind === "twilio"
      ? `Twilio account ${target.name}`
      : target.kind === "store"
        ? `store "${target.name}"`
        : `consumer "${target.name}"`;
  return target.detail === "" ? what : `${what} (${target.detail})`;
}

/** Twilio first, then each store, then each consumer, each in the order the plan meets it. */
function groupByTarget(changes: PlanChange[]): Map<string, PlanChange[]> {
  const order: PlanTarget["kind"][] = ["twilio", "store", "consumer"];
  const sorted = [...changes].sort((a, b) => order.indexOf(a.target.kind) - order.indexOf(b.target.kind));
  const groups = new Map<string, PlanChange[]>();
  for (const change of sorted) {
    const header = headerOf(change.target);
    groups.set(header, [...(groups.get(header) ?? []), change]);
  }
  return groups;
}

/**
 * Greedy word wrap to `width` columns: the first line after `first`, the others after `rest`. A word longer than
 * a line (a long path or URL) is cut, so that no line is wider than asked.
 */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let prefix = first;
  let line = "";
  const room = () => width - prefix.length;
  const flush = () => {
    lines.push(`${prefix}${line}`);
    prefix = rest;
    line = "";
  };
  for (let word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && visibleLength(line) + 1 + visibleLength(word) > room()) flush();
    while (visibleLength(word) > room() && room() > 0) {
      if (line !== "") flush();
      line = word.slice(0, room());
      word = word.slice(room());
      flush();
    }
    line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "" || lines.length === 0) flush();
  return lines;
}

/** Length as shown: without the color codes a style may have added. */
function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length;
}
