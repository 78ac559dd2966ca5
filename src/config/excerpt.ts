/**
 * Quoting the user's own file back to them, safely. A config never holds a secret by design, but a user may
 * paste a token into it by mistake, and the error about that line is the one place it would be echoed. So
 * anything quoted from the file goes through `maskTokenLike`: registered secrets are redacted, and any run of
 * 32 or more letters and digits (the shape of Twilio tokens and key secrets, and of most other API tokens)
 * is hidden; a SID keeps the `AC…a1b2` form used everywhere else.
 */
import { maskSid, redact } from "../util/mask.js";

const TOKEN_LIKE = /[A-Za-z0-9]{32,}/g;
const SID = /^(?:AC|SK)[0-9a-fA-F]{32}$/;
export const HIDDEN = "[REDACTED]";

/** Whether a text holds a run that looks like a secret (32+ letters and digits). */
export function looksLikeSecret(text: string): boolean {
  return /[A-Za-z0-9]{32,}/.test(text);
}

function maskRun(run: string): string {
  return SID.test(run) ? maskSid(run) : HIDDEN;
}

/** The text with registered secrets redacted and token-shaped runs hidden. */
export function maskTokenLike(text: string): string {
  return redact(text).replace(TOKEN_LIKE, maskRun);
}

/** Lines longer than this are cut around the column shown, so one line never becomes a page. */
const MAX_LINE = 120;

/**
 * One line of the file with a caret under a column (1-based), masked; the caret stays under the same
 * character when masking shortens the text before it. Only that line is shown, never its neighbours.
 */
export function excerpt(line: string, column: number): string[] {
  // Registered secrets first (a caret after one may then sit a little off; the line is still safe), then
  // token-shaped runs piece by piece, carrying the caret's column across each replacement.
  const text = redact(line).replace(/\t/g, " ");
  const at = Math.max(0, column - 1);
  let masked = "";
  let caret: number | undefined;
  let last = 0;
  for (const match of text.matchAll(TOKEN_LIKE)) {
    const start = match.index;
    const end = start + match[0].length;
    if (caret === undefined && at < start) caret = masked.length + (at - last);
    masked += text.slice(last, start);
    if (caret === undefined && at < end) caret = masked.length;
    masked += maskRun(match[0]);
    last = end;
  }
  caret ??= masked.length + (at - last);
  masked += text.slice(last);
  if (masked.length > MAX_LINE) {
    const from = Math.max(0, Math.min(caret - MAX_LINE / 2, masked.length - MAX_LINE));
    const cut = masked.slice(from, from + MAX_LINE);
    masked = `${from > 0 ? "…" : ""}${cut}${from + MAX_LINE < masked.length ? "…" : ""}`;
    caret = caret - from + (from > 0 ? 1 : 0);
  }
  return [masked, `${" ".repeat(caret)}^`];
}
