/**
 * How old the current credential is, in words built from what is known: Twilio's creation date (or, for a
 * token, the journaled run that put it in place), and whether a run in the journals made it. A key someone
 * made by hand a minute ago is "created 1 minute ago (not by rotator)", not "rotated less than a day ago".
 */
import type { RunSummary } from "./journal.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `less than a minute`, `1 minute`, `5 hours`, `3 days`: the largest whole unit. */
export function formatAge(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (ms < MINUTE) return "less than a minute";
  if (ms < HOUR) return unit(Math.floor(ms / MINUTE), "minute");
  if (ms < DAY) return unit(Math.floor(ms / HOUR), "hour");
  return unit(Math.floor(ms / DAY), "day");
}

/** The run of these journals that issued credential `id` (the last, should there be several), if any. */
export function runThatMade(runs: readonly RunSummary[], id: string): RunSummary | undefined {
  return runs.filter((run) => run.records.some((r) => r.event === "credential-issued" && r.newId === id)).at(-1);
}

/**
 * `rotated 2 hours ago by rotator run R` or `created 1 minute ago (not by rotator: no run in these journals
 * made it)`, for a credential born at `birth` whose maker (a run's id, or none) is known.
 */
export function describeOrigin(birth: Date, madeByRun: string | undefined, now = Date.now()): string {
  const ago = `${formatAge(Math.max(0, now - birth.getTime()))} ago`;
  return madeByRun === undefined
    ? `created ${ago} (not by rotator: no run in these journals made it)`
    : `rotated ${ago} by rotator run ${madeByRun}`;
}

/**
 * rotate's second thought: credential `id`, born at `birth`, is younger than a day; said with its origin
 * (the journals are read only then). Nothing when it is older.
 */
export async function youngCredentialWarning(
  name: string,
  birth: Date,
  id: string,
  journals: () => Promise<readonly RunSummary[]>,
  now = Date.now(),
): Promise<string | undefined> {
  if (now - birth.getTime() >= DAY) return undefined;
  return `${name} is under a day old: ${describeOrigin(birth, runThatMade(await journals(), id)?.runId, now)}`;
}
