/**
 * One store call as the engine runs it: bounded by a deadline, and, for a call that may change the store,
 * fenced by this process's lock (or lease, with state on PostgreSQL). The engine opens the scope
 * (src/engine/fence.ts); a provider only marks its requests:
 *
 * - `storeChange(op, send)` around every request (with its retries) that may change the store. It confirms the
 *   lock first (a lease is renewed, a lock file read back), so a process that lost its lock never starts one,
 *   and gives the request a time by which it must have left this process: the call's deadline, or earlier
 *   when the lease would run out first.
 * - `beforeSend()` as late as the provider's HTTP client allows, right before each attempt leaves the process.
 *   It refuses an attempt whose time has passed: a process frozen (SIGSTOP, a VM paused) between the lock
 *   check and the send finds on waking that its time is up, instead of sending a write after another host may
 *   have taken the run over.
 * - `callSignal()`: the call's AbortSignal, for the SDK requests, so nothing of a call outlives its deadline.
 *
 * Outside the engine's scope (the consumer library, provider tests) these do nothing: there is no lock to
 * hold and the providers' own per-request timeouts apply.
 *
 * What these cannot do is stop a request that has already left: a write a frozen process had sent, or a retry
 * the server applies late. Each provider fences that with what its store offers (see its file comment):
 * check-and-set for Vault, conditional label moves and restoring by a new version for AWS, removing the
 * frozen writer's temp file for dotenv files. Key Vault offers nothing, so there the send check is the fence.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { StoreError } from "./errors.js";

/** This process's hold on a store's lock, as the engine's state backend keeps it. */
export interface StoreFence {
  /**
   * Confirm this process still holds the lock (renewing a lease); resolves with the time (performance.now(),
   * ms) until which it surely holds it. Throws when it does not: the error is the engine's, and reaches the
   * engine unchanged (wrapped in a StoreFenceError on its way through the provider).
   */
  confirm(): Promise<number>;
}

export interface StoreCallScope {
  /** The store's name (pause points and messages). */
  readonly store: string;
  /** Aborted at the call's deadline: every request of the call stops then. */
  readonly signal: AbortSignal;
  /** performance.now() (ms) at which the call is given up. */
  readonly deadline: number;
  /** Present for calls that may change the store (prepare, write, rollback, release). */
  readonly fence?: StoreFence;
  /**
   * How long before the lock's end a change must have left (ms): a request sent with less left could reach a
   * store that takes that long to apply it after the lock ran out.
   */
  readonly marginMs: number;
  /** Test hook (ROTATOR_PAUSE): hold the call at `store-change:<store>:<op>` and `store-send:<store>:<op>`. */
  readonly pause?: (point: string) => Promise<void>;
}

/** Why a provider was stopped from changing its store. Extends StoreError so every provider lets it through. */
export class StoreFenceError extends StoreError {
  readonly reason: "lock-lost" | "too-late";
  constructor(store: string, reason: "lock-lost" | "too-late", message: string, cause?: unknown) {
    super("fatal", store, message, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

interface Change {
  scope: StoreCallScope;
  op: string;
  /** performance.now() (ms) after which the request must not leave this process. */
  sendBy: number;
}

const calls = new AsyncLocalStorage<StoreCallScope>();
const changes = new AsyncLocalStorage<Change>();

/** Run `call` as one store call of `scope` (the engine's side). */
export function inStoreCall<T>(scope: StoreCallScope, call: () => Promise<T>): Promise<T> {
  return calls.run(scope, call);
}

/** The current call's AbortSignal, for SDK requests; undefined outside a call. */
export function callSignal(): AbortSignal | undefined {
  return calls.getStore()?.signal;
}

/**
 * How long (ms) the current call may still try: to its deadline, or inside a change, to the time its request must
 * have left by (which the lease may bring forward). Infinite outside a call, where the providers' own per-request
 * timeouts and retry bounds apply (providers/error-kit/retry.ts).
 */
export function callTimeLeftMs(): number {
  const scope = calls.getStore();
  if (scope === undefined) return Number.POSITIVE_INFINITY;
  const until = Math.min(scope.deadline, changes.getStore()?.sendBy ?? Number.POSITIVE_INFINITY);
  return scope.signal.aborted ? 0 : until - performance.now();
}

/**
 * Send one request (with whatever retries `send` makes) that may change the store: only while this process
 * holds the store's lock, and only until its time is up (see the file comment). `op` names it for pause points.
 */
export async function storeChange<T>(op: string, send: () => Promise<T>): Promise<T> {
  const scope = calls.getStore();
  if (scope === undefined) return send();
  refuseAfterDeadline(scope, op);
  if (scope.fence === undefined) {
    throw new StoreFenceError(scope.store, "lock-lost", `refused to ${op}: a change outside a locked call (a bug).`);
  }
  let heldUntil: number;
  try {
    heldUntil = await scope.fence.confirm();
  } catch (error) {
    throw new StoreFenceError(
      scope.store,
      "lock-lost",
      `did not ${op}: this process no longer holds the store's lock.`,
      error,
    );
  }
  const change: Change = { scope, op, sendBy: Math.min(scope.deadline, heldUntil - scope.marginMs) };
  await scope.pause?.(`store-change:${scope.store}:${op}`);
  return changes.run(change, send);
}

/** Right before a request leaves this process (each attempt): refuse a change whose time has passed. */
export async function beforeSend(): Promise<void> {
  const change = changes.getStore();
  if (change === undefined) return;
  const { scope, op } = change;
  refuseAfterDeadline(scope, op);
  const late = performance.now() - change.sendBy;
  if (late > 0) {
    throw new StoreFenceError(
      scope.store,
      "too-late",
      `did not ${op}: the request was due to leave ${Math.round(late)} ms ago, before the store's lock could ` +
        "run out; this process stalled (frozen or starved) in between, and another process may hold the lock now.",
    );
  }
  await scope.pause?.(`store-send:${scope.store}:${op}`);
}

function refuseAfterDeadline(scope: StoreCallScope, op: string): void {
  // The clock as well as the signal: after a freeze the timer that aborts the signal may not have run yet.
  if (scope.signal.aborted || performance.now() > scope.deadline) {
    throw new StoreFenceError(scope.store, "too-late", `did not ${op}: the call had already been given up.`);
  }
}
