/**
 * "Did you mean baseUrl?" for a misspelt key or value. The candidates are the handful of keys allowed at one
 * place in the config, so a plain dynamic-programming distance is plenty; it counts a swap of two adjacent
 * letters as one edit (the commonest typo, which a plain Levenshtein distance counts as two).
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
export function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number) => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `given`, if it is close enough to be the likely intent: case is ignored
 * (`baseURL` → `baseUrl`), and up to one edit per three characters is allowed (at least one, at most three);
 * failing that, the one candidate that `given` begins (`dotenv` → `dotenv-file`).
 */
export function closest(given: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(given.length / 3)));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === given) continue;
    const distance = editDistance(given.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  if (best !== undefined) return best.candidate;
  // A beginning of exactly one candidate ("dotenv" for "dotenv-file") is as telling as a typo.
  const starts = [...candidates].filter(
    (candidate) => given.length >= 3 && candidate.toLowerCase().startsWith(given.toLowerCase()),
  );
  return starts.length === 1 ? starts[0] : undefined;
}
