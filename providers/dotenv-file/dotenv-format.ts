/**
 * A small, line-preserving dotenv reader and editor.
 *
 * Libraries such as `dotenv` parse a file into a map and cannot write it back, and rotator must change three
 * assignments while keeping every other byte of an operator's file. So this reads the common syntax (comments,
 * blank lines, `export `, single, double and backtick quotes, multi-line quoted values, `KEY=value # comment`,
 * CRLF) and edits assignments in place.
 *
 * Bytes are decoded as latin1, which maps each byte to one character and back, so lines rotator does not touch
 * round-trip exactly whatever their encoding; values are converted from and to UTF-8 at the edges.
 *
 * Semantics follow `dotenv`: the last assignment of a key wins; an unquoted value ends at a `#` that starts the
 * value or follows whitespace; in double quotes `\n`, `\r`, `\t`, `\"` and `\\` are escapes (`dotenv` itself
 * keeps `\"` and `\\` as written; credentials never contain them).
 */

type Quote = "" | "'" | '"' | "`";

interface Line {
  /** The line without its end-of-line characters. */
  text: string;
  /** "\n", "\r\n", or "" for a last line without one. */
  eol: string;
}

interface Assignment {
  key: string;
  /** The value as the file spells it (latin1), after removing quotes and double-quote escapes. */
  value: string;
  exported: boolean;
  /** Indentation, `export `, key and `=` with the spaces around it, exactly as written. */
  head: string;
  quote: Quote;
  /** What follows the value on its last line: spaces and a comment, kept as written. */
  tail: string;
  /** Index of the first and last line the assignment spans (several for a multi-line quoted value). */
  first: number;
  last: number;
}

/** One `KEY=value` found in a file. */
export interface DotenvEntry {
  key: string;
  value: string;
  exported: boolean;
  /** 1-based line number, for messages. */
  line: number;
}

const BOM = "\u00EF\u00BB\u00BF"; // UTF-8 byte order mark, as latin1
const ASSIGNMENT = new RegExp(
  `^((?:${BOM})?[ \\t]*)(export[ \\t]+)?([A-Za-z_][A-Za-z0-9_.-]*)([ \\t]*=[ \\t]*)(.*)$`,
  "s",
);
/** Values written without quotes: what Twilio SIDs, secrets and tokens are made of. */
const BARE_VALUE = /^[A-Za-z0-9_-]*$/;

/** Every assignment in the file, in order. */
export function parseDotenv(bytes: Uint8Array): DotenvEntry[] {
  return assignmentsOf(splitLines(toLatin1(bytes))).map((a) => ({
    key: a.key,
    value: fromLatin1(a.value),
    exported: a.exported,
    line: a.first + 1,
  }));
}

/** The effective value of each key (the last assignment wins, as in `dotenv` and in a shell). */
export function dotenvValues(bytes: Uint8Array): Map<string, string> {
  const values = new Map<string, string>();
  for (const entry of parseDotenv(bytes)) values.set(entry.key, entry.value);
  return values;
}

/**
 * Set each key in `values`: every existing assignment of it is rewritten in place (keeping `export `, the
 * spacing around `=`, the quote style where it can hold the value, and a trailing comment); keys with no
 * assignment are appended at the end. An assignment that already holds the value is left byte-for-byte as it
 * is, so applying the same values twice changes nothing. Every assignment of a key in `remove` (all the lines
 * it spans) goes, with nothing else: a retired credential field leaves no line behind.
 */
export function updateDotenv(
  bytes: Uint8Array,
  values: Readonly<Record<string, string>>,
  remove: readonly string[] = [],
): Buffer {
  const lines = splitLines(toLatin1(bytes));
  const assignments = assignmentsOf(lines);
  const wanted = new Map(Object.entries(values).map(([key, value]) => [key, toLatin1(Buffer.from(value, "utf8"))]));
  const unwanted = new Set(remove.filter((key) => !wanted.has(key)));

  const replacements = new Map<number, Assignment>();
  for (const assignment of assignments) {
    if (wanted.has(assignment.key) || unwanted.has(assignment.key)) replacements.set(assignment.first, assignment);
  }

  let out = "";
  for (let index = 0; index < lines.length; index++) {
    const assignment = replacements.get(index);
    if (assignment !== undefined && unwanted.has(assignment.key)) {
      index = assignment.last;
      continue;
    }
    const value = assignment === undefined ? undefined : wanted.get(assignment.key);
    if (assignment === undefined || value === undefined || assignment.value === value) {
      out += lines[index]!.text + lines[index]!.eol;
      continue;
    }
    out += renderAssignment(assignment, value) + lines[assignment.last]!.eol;
    index = assignment.last;
  }

  const present = new Set(assignments.map((a) => a.key));
  const missing = [...wanted].filter(([key]) => !present.has(key));
  if (missing.length > 0) {
    const eol = lines.find((line) => line.eol !== "")?.eol ?? "\n";
    // A file meant to be sourced by a shell exports everything; keep new lines consistent with it.
    const exportPrefix = assignments.length > 0 && assignments.every((a) => a.exported) ? "export " : "";
    if (out.length > 0 && !out.endsWith("\n")) out += eol;
    for (const [key, value] of missing) out += `${exportPrefix}${key}=${renderValue(value, "")}${eol}`;
  }
  return Buffer.from(out, "latin1");
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    if (newline === -1) {
      lines.push({ text: text.slice(start), eol: "" });
      break;
    }
    const crlf = newline > start && text[newline - 1] === "\r";
    lines.push({ text: text.slice(start, crlf ? newline - 1 : newline), eol: crlf ? "\r\n" : "\n" });
    start = newline + 1;
  }
  return lines;
}

function assignmentsOf(lines: readonly Line[]): Assignment[] {
  const assignments: Assignment[] = [];
  for (let index = 0; index < lines.length; index++) {
    const match = ASSIGNMENT.exec(lines[index]!.text);
    if (match === null) continue;
    const [, indent = "", exportWord = "", key = "", separator = "", rest = ""] = match;
    const assignment = {
      key,
      exported: exportWord !== "",
      head: indent + exportWord + key + separator,
      first: index,
      ...parseValue(lines, index, rest),
    };
    assignments.push(assignment);
    index = assignment.last;
  }
  return assignments;
}

function parseValue(
  lines: readonly Line[],
  index: number,
  rest: string,
): { value: string; quote: Quote; tail: string; last: number } {
  const quote = rest[0];
  if (quote === "'" || quote === '"' || quote === "`") {
    let body = rest.slice(1);
    let collected = "";
    for (let last = index; ; ) {
      const close = closingQuote(body, quote);
      if (close !== -1) {
        const raw = collected + body.slice(0, close);
        return { value: quote === '"' ? unescapeDouble(raw) : raw, quote, tail: body.slice(close + 1), last };
      }
      last++;
      const next = lines[last];
      if (next === undefined) break; // unterminated: read it as an unquoted value, as dotenv does
      collected += `${body}\n`;
      body = next.text;
    }
  }
  let cut = rest.length;
  for (let at = 0; at < rest.length; at++) {
    if (rest[at] === "#" && (at === 0 || rest[at - 1] === " " || rest[at - 1] === "\t")) {
      cut = at;
      break;
    }
  }
  const value = rest.slice(0, cut).replace(/[ \t]+$/, "");
  return { value, quote: "", tail: rest.slice(value.length), last: index };
}

function closingQuote(text: string, quote: string): number {
  if (quote !== '"') return text.indexOf(quote);
  for (let at = 0; at < text.length; at++) {
    if (text[at] === "\\") at++;
    else if (text[at] === '"') return at;
  }
  return -1;
}

const ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function unescapeDouble(raw: string): string {
  return raw.replace(/\\(.)/gs, (whole, char: string) => ESCAPES[char] ?? whole);
}

function renderAssignment(assignment: Assignment, value: string): string {
  const rendered = renderValue(value, assignment.quote);
  // `KEY=#c` reads as an empty value and a comment; a bare value written there needs a space before the `#`.
  const bare = rendered !== "" && !/^['"`]/.test(rendered);
  const tail = bare && assignment.tail.startsWith("#") ? ` ${assignment.tail}` : assignment.tail;
  return assignment.head + rendered + tail;
}

/** Bare when it is safe, else in the original quotes if they can hold it, else single or double quotes. */
function renderValue(value: string, quote: Quote): string {
  if (BARE_VALUE.test(value)) return quote + value + quote;
  if (!/['\r\n]/.test(value)) return `'${value}'`;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

function toLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function fromLatin1(text: string): string {
  return Buffer.from(text, "latin1").toString("utf8");
}
