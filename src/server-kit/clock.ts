/**
 * A test server's clock: the real one (or a test's) plus an offset that tests move, so what the server made
 * before ages without waiting (a key "91 days old", a token past its expiry).
 */

export interface ClockView {
  /** The server's time now, ISO 8601. */
  now: string;
  /** How far it runs from the real clock, in seconds (negative: behind). */
  offsetSeconds: number;
}

/** Set the offset from the real clock, or move the clock by `advanceMs` (negative: back). */
export type ClockMove = { offsetMs: number } | { advanceMs: number };

export class OffsetClock {
  readonly #real: () => number;
  readonly #name: string;
  #offsetMs: number;

  /** `name` starts error messages ("twilio emulator"). */
  constructor(name: string, real: () => number = Date.now, offsetMs = 0) {
    if (!Number.isFinite(offsetMs)) throw new Error(`${name}: clockOffsetMs must be a number`);
    this.#name = name;
    this.#real = real;
    this.#offsetMs = offsetMs;
  }

  /** Epoch milliseconds on the server's clock. */
  readonly now = (): number => this.#real() + this.#offsetMs;

  view(): ClockView {
    return { now: new Date(this.now()).toISOString(), offsetSeconds: this.#offsetMs / 1000 };
  }

  move(move: ClockMove): ClockView {
    const next = "offsetMs" in move ? move.offsetMs : this.#offsetMs + move.advanceMs;
    if (!Number.isFinite(next)) throw new Error(`${this.#name}: the clock moves by a number of milliseconds`);
    this.#offsetMs = next;
    return this.view();
  }
}
