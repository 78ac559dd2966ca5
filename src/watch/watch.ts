/**
 * `rotator watch`: check on an interval (check.ts), export what it saw (metrics.ts), and notify on the first
 * failing check (`watch-failure`) and once more when a check passes again (`watch-recovered`). The last
 * verdict is kept in the state directory, so `watch --once` from cron alerts once per outage too, not on
 * every run. A notification is awaited within the check that found it, so it goes out within the interval.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EngineContext } from "../engine/context.js";
import type { NotifyPayload } from "../notify/deliver.js";
import type { NotifyEvent } from "../notify/schema.js";
import { checkOnce, type WatchCheck } from "./check.js";
import type { WatchMetrics } from "./metrics.js";

export interface WatchOptions {
  intervalMs: number;
  once: boolean;
  metrics?: WatchMetrics | undefined;
  /** Stops the loop (between checks, or while waiting for the next). */
  signal: AbortSignal;
  /** Send a notification; resolves with warnings, never rejects. */
  notify: (payload: NotifyPayload) => Promise<string[]>;
  onCheck: (check: WatchCheck & { notified?: NotifyEvent; warnings: string[] }) => void;
}

interface Remembered {
  healthy: boolean;
  since: string;
}

function memoryFile(context: EngineContext): string {
  return join(context.stateDir, "watch", `${context.credentialKey}.json`);
}

function recall(context: EngineContext): Remembered | undefined {
  try {
    return JSON.parse(readFileSync(memoryFile(context), "utf8")) as Remembered;
  } catch {
    return undefined;
  }
}

function remember(context: EngineContext, value: Remembered): void {
  const file = memoryFile(context);
  try {
    mkdirSync(join(context.stateDir, "watch"), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    // Without a writable state directory watch still alerts; it may alert again after a restart.
  }
}

/** Runs until `signal` aborts (or once); returns the last check. */
export async function watchLoop(context: EngineContext, options: WatchOptions): Promise<WatchCheck | undefined> {
  let previous = recall(context);
  let last: WatchCheck | undefined;
  // A check's calls must end within the interval, so the next check (and an alert) is never late.
  const timeoutMs = Math.max(500, Math.min(10_000, options.intervalMs));
  for (let n = 1; !options.signal.aborted; n++) {
    const started = Date.now();
    const check = await checkOnce(context, n, timeoutMs);
    last = check;
    options.metrics?.update(check);
    let notified: NotifyEvent | undefined;
    if (!check.healthy && previous?.healthy !== false) notified = "watch-failure";
    if (check.healthy && previous?.healthy === false) notified = "watch-recovered";
    const warnings = notified === undefined ? [] : await options.notify(watchPayload(notified, check, context));
    if (previous?.healthy !== check.healthy) {
      previous = { healthy: check.healthy, since: check.checkedAt };
      remember(context, previous);
    }
    options.onCheck({ ...check, ...(notified === undefined ? {} : { notified }), warnings });
    if (options.once) break;
    await sleep(Math.max(0, options.intervalMs - (Date.now() - started)), options.signal);
  }
  return last;
}

function watchPayload(event: NotifyEvent, check: WatchCheck, context: EngineContext): NotifyPayload {
  const summary =
    event === "watch-failure"
      ? `check ${check.check} found ${check.problems.length} problem(s): ${check.problems[0] ?? ""}`
      : `check ${check.check}: every store's credential authenticates and every consumer reports it does`;
  return {
    event,
    summary,
    account: check.account,
    config: context.loaded.file,
    details: {
      check: check.check,
      checkedAt: check.checkedAt,
      problems: check.problems,
      stores: check.stores,
      consumers: check.consumers,
      credential: check.credential,
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
