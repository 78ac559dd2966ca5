/**
 * Parsing the config text (YAML, of which JSON is a subset) into plain data, with syntax errors the user can
 * act on: `file:line:col`, what is wrong in words, and the one offending line with a caret under the spot.
 * The yaml library reports where it gave up, which for an unclosed bracket or quote is often the next key or
 * the end of the file; those are moved back to where the fix goes.
 */
import { isAlias, LineCounter, Parser, parseDocument, visit, type YAMLError } from "yaml";
import { ConfigError } from "../errors.js";
import { excerpt, maskTokenLike } from "./excerpt.js";

/** More aliases than this in one file is a "billion laughs" expansion, not a config. */
const MAX_ALIAS_COUNT = 100;
/** The first few syntax errors; later ones are mostly echoes of the first. */
const MAX_SYNTAX_ERRORS = 3;

const SYNTAX_HINT = "fix the YAML/JSON syntax at the line shown";

export function parseConfigText(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    const problems: string[] = [];
    const lines = new Set<number>();
    for (const error of document.errors) {
      const { offset, message } = locate(error, text);
      const { line, col } = lineCounter.linePos(offset);
      if (lines.has(line)) continue;
      lines.add(line);
      problems.push(located(file, text, line, col, message));
    }
    const shown = problems.slice(0, MAX_SYNTAX_ERRORS);
    if (problems.length > shown.length) {
      shown.push(`and ${problems.length - shown.length} more YAML errors after these; fix these first and run again`);
    }
    throw new ConfigError(file, shown, SYNTAX_HINT);
  }
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml library throws a plain ReferenceError for an alias expansion past maxAliasCount.
    const alias = firstAliasOffset(document);
    const where = alias === undefined ? { line: 1, col: 1 } : lineCounter.linePos(alias);
    const message = /alias/i.test(String(error))
      ? `YAML aliases (*name) here expand to more than ${MAX_ALIAS_COUNT} copies, the "billion laughs" pattern; ` +
        "a rotator config needs no aliases like that: write the values out"
      : `the YAML could not be read: ${maskTokenLike(String(error))}`;
    throw new ConfigError(file, [located(file, text, where.line, where.col, message)], SYNTAX_HINT);
  }
}

/** `file:line:col: message`, then the line and a caret, indented to sit under the message. */
function located(file: string, text: string, line: number, col: number, message: string): string {
  const source = text.split(/\r?\n/)[line - 1] ?? "";
  const [shown, caret] = excerpt(source, col);
  return `${file}:${line}:${col}: ${message}\n      ${shown}\n      ${caret}`;
}

/** Where to point for an error, and what to say. */
function locate(error: YAMLError, text: string): { offset: number; message: string } {
  const offset = error.pos[0];
  const closing = /end with an? ([}\]])/.exec(error.message)?.[1];
  if (closing !== undefined) {
    const opening = closing === "}" ? "{" : "[";
    return {
      offset: endOfContentBefore(text, offset),
      message: `missing "${closing}": a ${opening} … ${closing} opened on this line or above is not closed (add "${closing}" where it ends)`,
    };
  }
  if (error.code === "MISSING_CHAR" && /quote/.test(error.message)) {
    const start = quotedScalarStart(text, offset);
    const quote = start === undefined ? '"' : (text[start] ?? '"');
    return {
      offset: start ?? endOfContentBefore(text, offset),
      message: `this quoted value is never closed: add the closing ${quote}`,
    };
  }
  const plain = maskTokenLike(error.message.replace(/[\s:]+$/, ""));
  const at = offset >= text.trimEnd().length ? endOfContentBefore(text, offset) : offset;
  switch (error.code) {
    case "TAB_AS_INDENT":
      return { offset: at, message: "a tab is used for indentation; YAML allows only spaces there" };
    case "DUPLICATE_KEY":
      return { offset: at, message: "this key appears twice in the same mapping; keep one of them" };
    case "MULTIPLE_DOCS":
      return { offset: at, message: 'the file holds more than one YAML document ("---"); a config is one document' };
    default:
      return { offset: at, message: plain };
  }
}

/**
 * The offset just after the last character of content before `offset`, skipping blank and comment-only
 * lines: where a missing bracket belongs, rather than the next key or the line after the end of the file.
 */
function endOfContentBefore(text: string, offset: number): number {
  const lines = text.slice(0, offset).split("\n");
  while (lines.length > 1) {
    const last = (lines.at(-1) ?? "").trim();
    if (last !== "" && !last.startsWith("#")) break;
    lines.pop();
  }
  const before = lines.slice(0, -1).join("\n");
  const lastLine = (lines.at(-1) ?? "").replace(/\s+$/, "");
  return (before === "" ? 0 : before.length + 1) + lastLine.length;
}

/** Where the quoted scalar that runs into `offset` opens, from the parser's concrete syntax tree. */
function quotedScalarStart(text: string, offset: number): number | undefined {
  let best: number | undefined;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const token = node as { type?: unknown; offset?: unknown };
    if (
      (token.type === "double-quoted-scalar" || token.type === "single-quoted-scalar") &&
      typeof token.offset === "number" &&
      token.offset <= offset &&
      (best === undefined || token.offset > best)
    ) {
      best = token.offset;
    }
    for (const value of Object.values(node)) if (typeof value === "object") walk(value);
  };
  for (const token of new Parser().parse(text)) walk(token);
  return best;
}

function firstAliasOffset(document: ReturnType<typeof parseDocument>): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (isAlias(node) && node.range) {
        offset = node.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return offset;
}
