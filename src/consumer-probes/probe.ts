/**
 * What the engine asks of every consumer: which credential are you using, and did your last Twilio call
 * authenticate? A consumer converges when it reports the expected credential and `authenticated: true`.
 */

export interface Expected {
  /** The credential type (`credential.type`): its definition says how a consumer reports the id. */
  kind: string;
  /** The credential's id (its definition's): key SID for API keys; token fingerprint for auth tokens. */
  id: string;
  /**
   * What an app that validates webhooks must validate them with (token fingerprints): every one of `trusts`, none
   * of `retired`. Only apps that report what they validate with (`webhookTokenFingerprints`) are held to it; set
   * during an Auth Token rotation (both tokens across the promote, then the new one only).
   */
  webhooks?: WebhookExpectation;
}

export interface WebhookExpectation {
  trusts: string[];
  retired: string[];
}

export type ProbeState =
  /** Uses the expected credential and its last Twilio call authenticated. */
  | "converged"
  /** Reports another credential (usually the old one: it has not reloaded yet). */
  | "other-credential"
  /**
   * Uses the expected credential and authenticates, but validates webhooks with other tokens than expected: not
   * yet with every token it must accept, or still with a retired one.
   */
  | "other-webhook-tokens"
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
  /** A consumer of many instances (a Kubernetes workload's pods): each one's word, as journaled. */
  pods?: PodReport[];
}

/** One pod of a `kubernetes` consumer: its name and revision (what the journal records), and what it said. */
export interface PodReport {
  name: string;
  /** The workload revision it runs (pod-template-hash, controller-revision-hash); "" for a selector's pods. */
  revision: string;
  /** `not-ready` pods are not asked; `old-revision` ones are left from before a rollout. */
  state: ProbeState | "not-ready" | "old-revision";
  /** Masked identifier it reported, if any. */
  reported?: string;
  /** Whether its last Twilio call authenticated, when it said. */
  authenticated?: boolean;
}

/** What a reload is for: the run, and the credential the consumer should end up on. */
export interface ReloadRequest {
  runId: string;
  expected: Expected;
  /** `forward`: onto the run's new credential; `back`: onto the old one again (a rollback). */
  direction: "forward" | "back";
}

/** A canary's brief: reload or restart the first instance(s), and wait at most this long for them. */
export interface CanaryRequest extends ReloadRequest {
  timeoutMs: number;
  pollMs: number;
  /** Asked between polls: true stops the wait (an interruption). */
  shouldStop?: () => boolean;
  /** The canary's progress, for the live display. */
  onProgress?: (detail: string) => void;
}

export interface CanaryOutcome {
  /** `passed`: the canary uses the new credential and authenticates; `stopped`: interrupted before it knew. */
  outcome: "passed" | "failed" | "stopped";
  /** One secret-free line for people (which pods, what they said). */
  detail: string;
  pods: PodReport[];
}

export interface ConsumerProbe {
  readonly name: string;
  readonly type: string;
  describe(): string;
  /**
   * Ask the app to re-read its store (optional hook); throws with a clear message on failure. May say what it did
   * (a rollout and its generation), for the journal.
   */
  reload?(request?: ReloadRequest): Promise<string | undefined>;
  /**
   * Canary first (a `kubernetes` consumer with `canary: N`): reload or restart N instances, and wait until they use
   * the new credential and authenticate, before anything else is touched.
   */
  canary?(request: CanaryRequest): Promise<CanaryOutcome>;
  /** What the canary will do, in words (for plan): "restart 1 pod of deployment/web". */
  describeCanary?(): string;
  check(expected: Expected): Promise<ProbeReport>;
}
