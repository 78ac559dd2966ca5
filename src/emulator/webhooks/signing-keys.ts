/**
 * Which token signs an account's webhooks at a given moment. Twilio signs with the account's primary auth
 * token, never the secondary (error 57012 lists "a secondary token that has not been promoted" among the
 * causes of a bad signature), and a new primary takes a while to reach every part of Twilio (Services and
 * Functions answer 403 for about a minute after a promote). The emulator models that as a signing lag: for
 * `lagMs` after the primary changes (a promote, or a security reset of the primary), webhooks are still
 * signed with the primary it replaced. 0 by default: the new primary signs at once.
 *
 * The lag is read when a webhook is signed, so changing it applies to primaries already replaced; times
 * come from the emulator's clock.
 */
import type { EmulatorState, TokenRecord } from "../state.js";

/** Replaced primaries kept per account and Region; more than enough for any lag across rapid promotes. */
const HISTORY = 16;

interface Replaced {
  token: TokenRecord;
  /** Epoch milliseconds (emulator clock) at which it stopped being the primary. */
  at: number;
}

export class SigningKeys {
  readonly #state: EmulatorState;
  readonly #replaced = new Map<string, Replaced[]>();
  #lagMs: number;

  constructor(state: EmulatorState, lagMs = 0) {
    this.#state = state;
    this.#lagMs = checkLag(lagMs);
  }

  get lagMs(): number {
    return this.#lagMs;
  }

  set lagMs(value: number) {
    this.#lagMs = checkLag(value);
  }

  /** Told by the state each time an account's primary changes; `previous` is the primary it replaced. */
  primaryReplaced(accountSid: string, region: string, previous: TokenRecord): void {
    const key = `${accountSid} ${region}`;
    const list = this.#replaced.get(key) ?? [];
    list.push({ token: previous, at: this.#state.nowMs() });
    if (list.length > HISTORY) list.shift();
    this.#replaced.set(key, list);
  }

  /**
   * The token that signs now: the oldest replaced primary still inside the lag, or the current primary.
   * Replaced primaries are in the order they were replaced, so the first one still propagating is the one
   * the rest of Twilio last heard of.
   */
  signingToken(accountSid: string, region: string): TokenRecord {
    const now = this.#state.nowMs();
    for (const replaced of this.#replaced.get(`${accountSid} ${region}`) ?? []) {
      if (now < replaced.at + this.#lagMs) return replaced.token;
    }
    const tokens = this.#state.tokens(accountSid, region);
    if (!tokens) throw new Error(`twilio emulator: account ${accountSid} has no tokens in ${region}`);
    return tokens.primary;
  }
}

/** A whole number of milliseconds, at most an hour (Twilio's propagation is about a minute). */
export function checkLag(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw new Error(`signingLagMs must be a whole number of milliseconds from 0 to 3600000, got ${String(value)}`);
  }
  return value;
}
