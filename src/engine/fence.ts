/**
 * Every store call the engine makes goes through here (buildContext wraps each provider once), so two rules
 * hold for every store type without each step saying so:
 *
 * - A deadline. Each call (a read, a write with its read-back and retries, a rollback) ends within the store's
 *   `timeoutSeconds`: a store that accepts connections but never answers is reported as unreachable then, naming
 *   it and what to check, and every request of the call is aborted. For a little while after (as long again)
 *   further calls to it fail at once with the same finding, so a command facing a hung store pays the wait once
 *   rather than once per call.
 * - A fence. A call that may change the store (prepare, write, rollback, release) first confirms that this
 *   process still holds the store's lock (renewing its lease, with state on PostgreSQL), and runs in a scope in
 *   which the provider confirms it again before each request that changes the store (providers/store-call.ts).
 *   A process that lost its lock is stopped with the state backend's own error (exit 5), never a StoreError the
 *   engine would answer with a rollback.
 */
import type { ProviderPreflight, StoreProvider, StoreSnapshot, StoreSync } from "../../providers/contract.js";
import { isStoreError, StoreError } from "../../providers/errors.js";
import type { StoreIdentity } from "../../providers/identity.js";
import { inStoreCall, type StoreCallScope, type StoreFence, StoreFenceError } from "../../providers/store-call.js";
import { ExitCode, RotatorError } from "../errors.js";
import type { EngineContext } from "./context.js";
import { storeTimeoutMs } from "./deadlines.js";

/** A store that did not answer within its deadline. */
export class StoreUnreachableError extends StoreError {}

export interface FenceOptions {
  /** The store's deadline per call (its `timeoutSeconds`). */
  timeoutMs: number;
  /** Where the deadline is configured, for messages: `stores[2].timeoutSeconds`. */
  setting: string;
  /** The lock this process holds on the store now, if any (the state backend's). */
  fence(): StoreFence | undefined;
  /** Test hook: pause points inside store calls (engine/failpoint.ts pausepoint). */
  pause?: (point: string) => Promise<void>;
}

/** A deadline noticed this late (ms) was missed by this process, not by the store. */
const STALL_MS = 1_000;

type Call = "identity" | "preflight" | "read" | "prepare" | "write" | "rollback" | "release" | "sync";

/** `provider`, with every call bounded by its deadline and every change fenced by this process's lock. */
export function fencedStore(provider: StoreProvider, options: FenceOptions): StoreProvider {
  let unreachable: { until: number; error: StoreUnreachableError } | undefined;

  const giveUp = (call: Call): StoreUnreachableError => {
    const seconds = options.timeoutMs / 1000;
    const error = new StoreUnreachableError(
      "retryable",
      provider.name,
      `${provider.describe()} is unreachable: no answer within ${seconds} s (${options.setting}) to ${describeCall(call)}. ` +
        "Check that the store's server is up, answering, and reachable from this host; rotator gave the call up.",
    );
    unreachable = { until: performance.now() + options.timeoutMs, error };
    return error;
  };

  async function bounded<T>(call: Call, body: () => Promise<T>): Promise<T> {
    if (unreachable !== undefined && performance.now() < unreachable.until) throw unreachable.error;
    const changes = call === "prepare" || call === "write" || call === "rollback" || call === "release";
    const fence = changes ? options.fence() : undefined;
    if (changes) {
      if (fence === undefined) throw new Error(`store "${provider.name}": ${call} without this process's lock`);
      // Immediately before the call: a process that lost its lock never starts one (the engine's error, exit 5).
      await fence.confirm();
    }
    const controller = new AbortController();
    const deadline = performance.now() + options.timeoutMs;
    const scope: StoreCallScope = {
      store: provider.name,
      signal: controller.signal,
      deadline,
      marginMs: options.timeoutMs,
      ...(fence === undefined ? {} : { fence }),
      ...(options.pause === undefined ? {} : { pause: options.pause }),
    };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(stalledFor(performance.now() - deadline) ?? giveUp(call));
      }, options.timeoutMs);
    });
    try {
      return await Promise.race([inStoreCall(scope, body), expired]);
    } catch (error) {
      if (error instanceof StoreFenceError) {
        // The lock is gone: the state backend's own error, as the journal would raise it. Too late: as it says.
        throw error.reason === "lock-lost" && error.cause instanceof Error ? error.cause : error;
      }
      // Whatever an aborted request made of the abort, the truth is the deadline.
      if (controller.signal.aborted || performance.now() >= deadline) {
        throw stalledFor(performance.now() - deadline) ?? unreachable?.error ?? giveUp(call);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /**
   * When the deadline passed long before this process noticed, it is this process that stalled (frozen,
   * starved of CPU), not the store that failed to answer: said so, and the store is not marked unreachable.
   */
  const stalledFor = (lateMs: number): StoreError | undefined =>
    lateMs < STALL_MS
      ? undefined
      : new StoreError(
          "retryable",
          provider.name,
          `this process stalled for ${Math.round(lateMs / 1000)} s (frozen or starved) while calling ${provider.describe()}, past the call's deadline of ${options.timeoutMs / 1000} s (${options.setting}); rotator gave the call up.`,
        );

  function boundedSync(sync: StoreSync): StoreSync {
    return {
      from: sync.from,
      timeoutSeconds: sync.timeoutSeconds,
      // Never throws (the contract): a refresh request that does not answer in time is said, and the wait goes on.
      request: (runId) =>
        bounded("sync", () => sync.request(runId)).catch(
          (error: unknown) => `could not ask for a refresh: ${error instanceof Error ? error.message : String(error)}`,
        ),
    };
  }

  return {
    name: provider.name,
    type: provider.type,
    capabilities: provider.capabilities,
    describe: () => provider.describe(),
    // A store another system fills: the engine waits for it instead of writing it, so the wrapper must say so.
    // Asking that system to refresh changes no store (it is a hint), so it is bounded but not fenced.
    ...(provider.sync === undefined ? {} : { sync: boundedSync(provider.sync) }),
    // Never throws (the contract): a store that does not answer in time (or this process stalled) gets the
    // config's spelling, marked unresolved (context.ts then looks for the identity its journaled runs recorded).
    identity: async (): Promise<StoreIdentity> => {
      try {
        return await bounded("identity", () => provider.identity());
      } catch {
        return { key: `${provider.type}:${provider.describe()}`, display: provider.describe(), unresolved: true };
      }
    },
    preflight: (): Promise<ProviderPreflight> => bounded("preflight", () => provider.preflight()),
    read: (): Promise<StoreSnapshot> => bounded("read", () => provider.read()),
    prepare: (expected, ctx) => bounded("prepare", () => provider.prepare(expected, ctx)),
    write: (next, restorePoint, ctx) => bounded("write", () => provider.write(next, restorePoint, ctx)),
    rollback: (restorePoint, ctx) => bounded("rollback", () => provider.rollback(restorePoint, ctx)),
    release: (restorePoint, ctx) => bounded("release", () => provider.release(restorePoint, ctx)),
    close: async () => {
      await provider.close?.();
    },
  };
}

function describeCall(call: Call): string {
  switch (call) {
    case "identity":
      return "a lookup of the store";
    case "preflight":
    case "read":
      return "a read";
    case "prepare":
      return "preparing the write";
    case "write":
      return "the write";
    case "rollback":
      return "the rollback";
    case "release":
      return "tidying up after the run";
    case "sync":
      return "the request to refresh it";
  }
}

/**
 * Before `resume` or `rollback` acts on a run: every store must answer. One that cannot be reached now (no
 * answer within its deadline, a refused or dropped connection) stops the command before it changes anything,
 * naming the store and what to check: half a rollback, or a resume that can neither finish nor undo, would
 * only leave more to put right once it is back. Exit 7; the run stays as its journal says.
 */
export async function requireReachableStores(
  context: Pick<EngineContext, "stores">,
  run: { runId: string },
  command: "resume" | "rollback",
): Promise<void> {
  const reads = await Promise.allSettled(context.stores.map((store) => store.read()));
  const down = reads.flatMap((read) =>
    read.status === "rejected" && isStoreError(read.reason) && read.reason.kind === "retryable"
      ? [read.reason.message]
      : [],
  );
  if (down.length === 0) return;
  throw new RotatorError(
    `cannot ${command} run ${run.runId} now, a store does not answer:\n  - ${down.join("\n  - ")}\nnothing was changed; the run is as it was`,
    {
      exitCode: ExitCode.needsOperator,
      hint: `once every store answers, run \`rotator ${command}\` again (\`rotator status\` shows the run meanwhile)`,
    },
  );
}

/**
 * What `plan` says about fencing with state on PostgreSQL, where a host can lose its lease while alive (frozen
 * past it): how each store keeps such a host's late change out, and for a store that offers no condition (Key
 * Vault), exactly what remains. Nothing with local state: a lock file is not lost to time, only taken by hand.
 */
export function fencingNotes(context: Pick<EngineContext, "stores" | "loaded">): string[] {
  const { state, stores: entries } = context.loaded.config;
  if (state.backend !== "postgres") return [];
  const lease = state.leaseSeconds;
  const conditional = context.stores.filter((store) => store.capabilities.fence === "store").map((s) => s.name);
  const notes = [
    `fencing (state on PostgreSQL, lease ${lease} s): a host that loses its lease changes no store afterwards: it ` +
      "renews the lease right before every request that changes a store, and sends the request only while the lease " +
      "has at least the store's timeoutSeconds left" +
      (conditional.length === 0
        ? "."
        : `; ${conditional.join(", ")} also refuse by themselves such a request that arrives late (conditional label moves, check-and-set, a temp file the next holder removes).`),
  ];
  context.stores.forEach((store, index) => {
    if (store.capabilities.fence !== "deadline") return;
    const seconds = storeTimeoutMs(entries[index] ?? {}, state) / 1000;
    notes.push(
      `store "${store.name}": ${store.describe()} offers no conditional write, so one window remains: a host that ` +
        "freezes after its last check (lease renewed, clock checked as the request goes to the HTTP client) and " +
        `before the request has left it (connecting, TLS, writing it: milliseconds), and stays frozen longer than the ` +
        `lease had left (at least ${seconds} s), sends that request when it wakes, possibly after another host took ` +
        `the run over; so does a store that applies a request more than ${seconds} s after receiving it. Hosts that ` +
        "are never paused (no VM or container freeze) do not meet it.",
    );
  });
  return notes;
}
