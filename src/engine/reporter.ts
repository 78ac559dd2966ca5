/**
 * Human progress on stderr (plain lines: ./line-reporter.ts), plus, on a terminal, a block of status lines
 * redrawn in place while rotator waits for consumers.
 */
import { createLogUpdate } from "log-update";
import { redact } from "../util/mask.js";
import { lineReporter, plainStyle, type Reporter, type ReporterStyle } from "./line-reporter.js";

export { type Reporter, type ReporterStyle, silentReporter } from "./line-reporter.js";

export function streamReporter(
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  style: ReporterStyle = plainStyle,
): Reporter {
  const reporter = lineReporter(stream, style);
  if (stream.isTTY) {
    // log-update redraws in place and copes with wrapping; showCursor keeps Ctrl-C from leaving it hidden.
    const update = createLogUpdate(stream, { showCursor: true });
    reporter.live = (lines) => update(style.text(redact(lines.map((line) => `    ${line}`).join("\n"))));
    reporter.liveDone = () => update.done();
  }
  return reporter;
}
