/**
 * Human progress, written to stderr so stdout stays clean for `--json`. Every line passes through
 * `redact`, the last line of defence against a secret reaching a terminal or a CI log.
 */
import { redact } from "../util/mask.js";

export interface Reporter {
  /** A step of the fixed order starts or ends. */
  step(text: string): void;
  /** Detail under the current step. */
  info(text: string): void;
  warn(text: string): void;
}

export function streamReporter(stream: NodeJS.WritableStream = process.stderr): Reporter {
  const write = (prefix: string, text: string) => stream.write(`${prefix}${redact(text)}\n`);
  return {
    step: (text) => write("==> ", text),
    info: (text) => write("    ", text),
    warn: (text) => write("  ! ", text),
  };
}

export const silentReporter: Reporter = { step() {}, info() {}, warn() {} };
