/** Durations given on the command line: `30s`, `1m`, `500ms`, `1h`, `91d`, or a bare number of seconds. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or an error message saying what is wrong (never throws). */
export function parseDuration(text: string): number | string {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (match === null) return `"${text}" is not a duration: use e.g. 30s, 5m, 1h or 500ms`;
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? "s"] ?? 1000));
}

/** `-91d`, `36h`, `0`: milliseconds, negative for a leading minus; or an error message (never throws). */
export function parseSignedDuration(text: string): number | string {
  const negative = text.trim().startsWith("-");
  const ms = parseDuration(negative ? text.trim().slice(1) : text);
  if (typeof ms === "string") return `"${text}" is not a duration: use e.g. -91d, 36h, 30m or 0`;
  return negative ? -ms : ms;
}

/** `1m 30s`, `500 ms`, `2 h`: for log lines. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}
