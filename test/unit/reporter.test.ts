import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { streamReporter } from "../../src/engine/reporter.js";
import { registerSecret } from "../../src/util/mask.js";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY, columns: 100, rows: 40 },
  );
  return { stream, text: () => chunks.join("") };
}

describe("streamReporter", () => {
  it("prints plain prefixed lines, redacted, and offers no live block when not a terminal", () => {
    const { stream, text } = sink(false);
    const secret = "sekrit-value-for-the-reporter-test";
    registerSecret(secret);
    const reporter = streamReporter(stream);
    reporter.step("one");
    reporter.info(`two ${secret}`);
    reporter.warn("three");
    expect(text()).toBe("==> one\n    two [REDACTED]\n  ! three\n");
    expect(reporter.live).toBeUndefined();
  });

  it("on a terminal redraws the consumer block in place, and redacts it too", () => {
    const { stream, text } = sink(true);
    const secret = "another-sekrit-for-the-live-block";
    registerSecret(secret);
    const reporter = streamReporter(stream);
    reporter.live?.(["… web-1: waiting", "… web-2: waiting"]);
    reporter.live?.(["✓ web-1: uses SK…a1b2 and authenticates", `… web-2: ${secret}`]);
    reporter.liveDone?.();
    const out = text();
    expect(out).toContain("    … web-1: waiting");
    expect(out).toContain("    ✓ web-1: uses SK…a1b2 and authenticates");
    // The second frame erases the first (cursor up + erase line) rather than appending below it.
    expect(out).toMatch(/\u001b\[2K/);
    expect(out).not.toContain(secret);
  });
});
