/**
 * Human progress, written to stderr so stdout stays clean for the result (and `--json`). Every line passes
 * through `redact`, the last line of defence against a secret reaching a terminal or a CI log.
 */
import { createLogUpdate } from "log-update";
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

const plain: ReporterStyle = { bold: (t) => t, warn: (t) => t, dim: (t) => t, text: (t) => t };

export function streamReporter(
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  style: ReporterStyle = plain,
): Reporter {
  const write = (text: string) => {
    // A closed stream (EPIPE) must never end a run: progress to nowhere is dropped.
    try {
      stream.write(`${style.text(redact(text))}\n`);
    } catch {
      // dropped
    }
  };
  const reporter: Reporter = {
    step: (text) => write(`${style.bold("==>")} ${style.bold(text)}`),
    info: (text) => write(`    ${text}`),
    warn: (text) => write(style.warn(`  ! ${text}`)),
  };
  if (stream.isTTY) {
    // log-update redraws in place and copes with wrapping; showCursor keeps Ctrl-C from leaving it hidden.
    const update = createLogUpdate(stream, { showCursor: true });
    reporter.live = (lines) => update(style.text(redact(lines.map((line) => `    ${line}`).join("\n"))));
    reporter.liveDone = () => update.done();
  }
  return reporter;
}

export const silentReporter: Reporter = { step() {}, info() {}, warn() {} };
