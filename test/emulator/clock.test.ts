/** The emulator's movable clock: what is made while it runs behind is dated then, and it moves over HTTP. */
import { describe, expect, it } from "vitest";
import { startTwilioEmulator } from "../../src/emulator/index.js";

const DAY = 86_400_000;

describe("the emulator's clock", () => {
  it("dates what is made by the clock's offset; set or advanced, it dates what comes next from there", async () => {
    const emulator = await startTwilioEmulator({ clockOffsetMs: -91 * DAY });
    try {
      const before = Date.now();
      const old = emulator.createStandardKey();
      const age = (sid: string) =>
        before -
        emulator
          .keys()
          .find((key) => key.sid === sid)!
          .dateCreated.getTime();
      expect(age(old.sid)).toBeGreaterThanOrEqual(91 * DAY - 2000);
      expect(age(old.sid)).toBeLessThan(91 * DAY + 2000);

      const moved = await fetch(`${emulator.baseUrl}/__emulator/clock`, {
        method: "POST",
        body: JSON.stringify({ advance: "91d" }),
      });
      expect(moved.status).toBe(200);
      expect(await moved.json()).toMatchObject({ offsetSeconds: 0 });
      const young = emulator.createStandardKey();
      expect(Math.abs(age(young.sid))).toBeLessThan(2000);
      // The first key is still dated as it was: the clock moved, not the keys.
      expect(age(old.sid)).toBeGreaterThanOrEqual(91 * DAY - 2000);

      expect(emulator.moveClock({ offsetMs: -DAY }).offsetSeconds).toBe(-86_400);
      const clock = (await (await fetch(`${emulator.baseUrl}/__emulator/clock`)).json()) as { now: string };
      expect(Math.abs(Date.parse(clock.now) - (Date.now() - DAY))).toBeLessThan(2000);
    } finally {
      await emulator.close();
    }
  });

  it("a body that says neither, or both, or no duration, is a 400 naming what to send", async () => {
    const emulator = await startTwilioEmulator();
    try {
      for (const body of [{}, { offset: "1d", advance: "1d" }, { advance: "soon" }, { offset: 5 }]) {
        const answer = await fetch(`${emulator.baseUrl}/__emulator/clock`, {
          method: "POST",
          body: JSON.stringify(body),
        });
        expect(answer.status, JSON.stringify(body)).toBe(400);
        expect(((await answer.json()) as { error: string }).error).toMatch(/offset|advance|duration|string/);
      }
      expect(emulator.clock().offsetSeconds).toBe(0);
    } finally {
      await emulator.close();
    }
  });
});
