/** A credential's age in words: precise units, and who made it (a journaled run, or not rotator). */
import { describe, expect, it } from "vitest";
import { describeOrigin, formatAge, youngCredentialWarning } from "../../src/engine/credential-origin.js";
import type { RunSummary } from "../../src/engine/journal.js";

const NOW = Date.parse("2026-12-06T12:00:00Z");
const ago = (ms: number) => new Date(NOW - ms);

describe("credential age words", () => {
  it("says the largest whole unit: seconds are less than a minute, then minutes, hours, days", () => {
    expect(formatAge(30_000)).toBe("less than a minute");
    expect(formatAge(60_000)).toBe("1 minute");
    expect(formatAge(59 * 60_000)).toBe("59 minutes");
    expect(formatAge(3 * 3_600_000 + 5 * 60_000)).toBe("3 hours");
    expect(formatAge(86_400_000)).toBe("1 day");
    expect(formatAge(91 * 86_400_000)).toBe("91 days");
  });

  it("a key no journaled run made is 'created … (not by rotator)'; one a run made names the run", () => {
    expect(describeOrigin(ago(90_000), undefined, NOW)).toBe(
      "created 1 minute ago (not by rotator: no run in these journals made it)",
    );
    expect(describeOrigin(ago(2 * 3_600_000), "20261206-r1", NOW)).toBe(
      "rotated 2 hours ago by rotator run 20261206-r1",
    );
  });

  it("rotate warns of a key younger than a day, reading the journals only then", async () => {
    const madeIt = {
      runId: "R1",
      records: [{ event: "credential-issued", newId: "SKabc" }],
    } as unknown as RunSummary;
    let reads = 0;
    const journals = async () => {
      reads += 1;
      return [madeIt];
    };
    expect(await youngCredentialWarning("SK…abc", ago(5 * 60_000), "SKabc", journals, NOW)).toBe(
      "SK…abc is under a day old: rotated 5 minutes ago by rotator run R1",
    );
    expect(await youngCredentialWarning("SK…def", ago(60_000), "SKdef", journals, NOW)).toBe(
      "SK…def is under a day old: created 1 minute ago (not by rotator: no run in these journals made it)",
    );
    expect(reads).toBe(2);
    expect(await youngCredentialWarning("SK…abc", ago(25 * 3_600_000), "SKabc", journals, NOW)).toBeUndefined();
    expect(reads).toBe(2);
  });
});
