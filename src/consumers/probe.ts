/**
 * What the engine asks of every consumer: which credential are you using, and did your last Twilio call
 * authenticate? A consumer converges when it reports the expected credential and `authenticated: true`.
 */

export interface Expected {
  kind: "api-key" | "auth-token";
  /** Key SID for API keys; token fingerprint (first 16 hex of SHA-256) for auth tokens. */
  id: string;
}

export type ProbeState =
  /** Uses the expected credential and its last Twilio call authenticated. */
  | "converged"
  /** Reports another credential (usually the old one: it has not reloaded yet). */
  | "other-credential"
  /** Reports the expected credential, but its last Twilio call failed to authenticate. */
  | "not-authenticated"
  /** No answer: connection refused, timeout, non-2xx. */
  | "unreachable"
  /** Answered, but not with the contract's JSON. */
  | "bad-response";

export interface ProbeReport {
  state: ProbeState;
  /** Masked identifier the consumer reported, if any. */
  reported?: string;
  /** One secret-free line for people. */
  detail: string;
  /** Whether the consumer's last Twilio call authenticated, when it said (http probes do, whatever it uses). */
  authenticated?: boolean;
}

export interface ConsumerProbe {
  readonly name: string;
  readonly type: string;
  describe(): string;
  /** Ask the app to re-read its store (optional hook); throws with a clear message on failure. */
  reload?(): Promise<void>;
  check(expected: Expected): Promise<ProbeReport>;
}
