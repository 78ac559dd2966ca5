/**
 * Where and how the CLI writes. Results go to stdout (a person reads them, or `--json` a program); progress
 * goes to stderr, so `rotator rotate --json | jq` and `rotator plan > plan.txt` keep working. Color and
 * emphasis only on a terminal, never with NO_COLOR or `--no-color`; ✓, ✗ and … only where the locale can
 * show them (plain ASCII otherwise). Everything passes through `redact` on its way out.
 */
import picocolors from "picocolors";
import { redact } from "../util/mask.js";

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Style {
  readonly color: boolean;
  readonly unicode: boolean;
  ok(text: string): string;
  fail(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  /** ✓ or "ok" */
  readonly tick: string;
  /** ✗ or "x" */
  readonly cross: string;
  /** … or "..." */
  readonly ellipsis: string;
  /** Make a line fit the stream's character set: `SK…a1b2` becomes `SK...a1b2` without unicode. */
  text(line: string): string;
}

/** Whether to color a stream: a terminal, and nobody asked for none (https://no-color.org). */
export function wantsColor(stream: Stream, env: Environment, flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** Whether the locale can show ✓ and …: a UTF-8 locale (the first of LC_ALL, LC_CTYPE, LANG that is set). */
export function wantsUnicode(env: Environment): boolean {
  if (env.TERM === "linux" || env.TERM === "dumb") return false;
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return /utf-?8/i.test(locale);
}

export function makeStyle(color: boolean, unicode: boolean): Style {
  const c = picocolors.createColors(color);
  return {
    color,
    unicode,
    ok: (text) => c.green(text),
    fail: (text) => c.red(c.bold(text)),
    warn: (text) => c.yellow(text),
    dim: (text) => c.dim(text),
    bold: (text) => c.bold(text),
    tick: unicode ? "✓" : "ok",
    cross: unicode ? "✗" : "x",
    ellipsis: unicode ? "…" : "...",
    text: (line) => (unicode ? line : line.replaceAll("…", "...").replaceAll("✓", "ok").replaceAll("✗", "x")),
  };
}

export interface Output {
  readonly stdout: Stream;
  readonly stderr: Stream;
  /** For what goes to stdout. */
  readonly out: Style;
  /** For what goes to stderr. */
  readonly err: Style;
  /** Write lines to stdout, redacted, fitted to its character set. */
  print(lines: string | string[]): void;
  /** Write lines to stderr, redacted, fitted to its character set. */
  note(lines: string | string[]): void;
}

export function makeOutput(
  streams: { stdout: Stream; stderr: Stream },
  env: Environment,
  colorFlag: boolean | undefined,
): Output {
  const unicode = wantsUnicode(env);
  const out = makeStyle(wantsColor(streams.stdout, env, colorFlag), unicode);
  const err = makeStyle(wantsColor(streams.stderr, env, colorFlag), unicode);
  const write = (stream: Stream, style: Style, lines: string | string[]) => {
    const text = Array.isArray(lines) ? lines.join("\n") : lines;
    stream.write(`${style.text(redact(text))}\n`);
  };
  return {
    stdout: streams.stdout,
    stderr: streams.stderr,
    out,
    err,
    print: (lines) => write(streams.stdout, out, lines),
    note: (lines) => write(streams.stderr, err, lines),
  };
}
