/**
 * Human progress as plain lines, written to stderr so stdout stays clean for the result (and `--json`).
 * Every line passes through `redact`, the last line of defence against a secret reaching a terminal or a
 * CI log. The live block a terminal gets on top of this is in ./reporter.ts: it needs log-update and its
 * dependencies, which a run whose stderr is a log or a pipe (cron, CI, tests) never loads.
 */
import { redact } from "../util/mask.js";

export interface Reporter {
  /** A step of the fixed order starts or ends. */
  step(text: string): void;
  /** Detail under the current step. */
  info(text: string): void;
  warn(text: string): void;
  /**
   * Redraw a block of status lines in place (one per consumer while rotator waits for them). Only on a
   * terminal: in a log, changes are reported as `info` lines instead.
   */
  live?: (lines: string[]) => void;
  /** Leave the last block on screen and go back to plain lines. */
  liveDone?: () => void;
}

/** How progress lines look: emphasis for steps, warnings in color, ASCII where ✓ and … cannot be shown. */
export interface ReporterStyle {
  bold(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  text(line: string): string;
}

export const plainStyle: ReporterStyle = { bold: (t) => t, warn: (t) => t, dim: (t) => t, text: (t) => t };

/** Plain prefixed lines, with no live block (what a log gets). */
export function lineReporter(
  stream: NodeJS.WritableStream = process.stderr,
  style: ReporterStyle = plainStyle,
): Reporter {
  const write = (text: string) => {
    // A closed stream (EPIPE) must never end a run: progress to nowhere is dropped.
    try {
      stream.write(`${style.text(redact(text))}\n`);
    } catch {
      // dropped
    }
  };
  return {
    step: (text) => write(`${style.bold("==>")} ${style.bold(text)}`),
    info: (text) => write(`    ${text}`),
    warn: (text) => write(style.warn(`  ! ${text}`)),
  };
}

/** Says nothing: for a run nobody watches (doctor's context, a library caller's). */
export const silentReporter: Reporter = { step() {}, info() {}, warn() {} };
