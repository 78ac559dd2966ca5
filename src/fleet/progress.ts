/**
 * A fleet's progress on stderr: done, failed and remaining accounts with an estimate of the time left. On a
 * terminal one line is redrawn in place (a few times a second at most); in a log each account that ends
 * gets a line of its own, with the counts, so a CI log or a journal of the scheduler tells the story.
 */
import type { Reporter } from "../engine/reporter.js";

export interface ProgressCounts {
  total: number;
  done: number;
  failed: number;
  running: number;
}

const REDRAW_MS = 250;

/** `1m 05s`, `12 s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}

export class FleetProgress {
  readonly #reporter: Reporter;
  readonly #counts: ProgressCounts;
  readonly #started: number;
  readonly #now: () => number;
  #lastDraw = Number.NEGATIVE_INFINITY;
  readonly #noun: string;

  constructor(reporter: Reporter, total: number, options: { noun?: string; now?: () => number } = {}) {
    this.#reporter = reporter;
    this.#counts = { total, done: 0, failed: 0, running: 0 };
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    this.#noun = options.noun ?? "accounts";
  }

  get counts(): ProgressCounts {
    return { ...this.#counts };
  }

  started(): void {
    this.#counts.running += 1;
    this.#draw(false);
  }

  /** An account ended: `ok` says whether it did what was asked; `line` is its one-line outcome. */
  finished(ok: boolean, line: string): void {
    this.#counts.running -= 1;
    if (ok) this.#counts.done += 1;
    else this.#counts.failed += 1;
    if (this.#reporter.live === undefined) {
      const ended = this.#counts.done + this.#counts.failed;
      this.#reporter.info(`[${ended}/${this.#counts.total}] ${line}; ${this.summary()}`);
    }
    this.#draw(false);
  }

  /** Leave the last line on screen. */
  end(): void {
    this.#draw(true);
    this.#reporter.liveDone?.();
  }

  /** `412 done, 3 failed, 585 remaining (16 running), ETA 1m 12s`. */
  summary(): string {
    const { total, done, failed, running } = this.#counts;
    const ended = done + failed;
    const remaining = total - ended;
    const elapsed = this.#now() - this.#started;
    const eta = ended === 0 || remaining === 0 ? "" : `, ETA ${formatDuration((elapsed / ended) * remaining)}`;
    return `${done} done, ${failed} failed, ${remaining} remaining (${running} running)${eta}`;
  }

  #draw(force: boolean): void {
    if (this.#reporter.live === undefined) return;
    const now = this.#now();
    if (!force && now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    this.#reporter.live([`${this.#noun}: ${this.summary()}, ${formatDuration(now - this.#started)} elapsed`]);
  }
}
