/**
 * How long rotator waits for a store or for Twilio before it calls them unreachable: one home for the defaults
 * and for the rule that ties a store's deadline to the lease (state on PostgreSQL).
 *
 * A store call must end well within the lease: the lease is what keeps another host from taking a run over,
 * and a call still running (or frozen) when it runs out is one another host's rollback could cross. So a
 * store's deadline is at most half the lease: a configured one above that is refused at load, and the default
 * (5 s: a store call is a handful of requests, each well under a second) shrinks to half a shorter lease.
 */
import type { StateConfig } from "./state/schema.js";

/** A store call's deadline when `timeoutSeconds` is not set (and the lease allows it). */
export const DEFAULT_STORE_TIMEOUT_SECONDS = 5;
/** Each Twilio request's deadline when `twilio.timeoutSeconds` is not set. */
export const DEFAULT_TWILIO_TIMEOUT_SECONDS = 10;

/** The longest a store call may take with this state: half the lease on PostgreSQL, anything locally. */
export function maxStoreTimeoutSeconds(state: StateConfig): number | undefined {
  return state.backend === "postgres" ? state.leaseSeconds / 2 : undefined;
}

/** A store's deadline per call, in ms: its `timeoutSeconds`, else the default within the lease's bound. */
export function storeTimeoutMs(entry: { timeoutSeconds?: number | undefined }, state: StateConfig): number {
  const bound = maxStoreTimeoutSeconds(state);
  const seconds = entry.timeoutSeconds ?? Math.min(DEFAULT_STORE_TIMEOUT_SECONDS, bound ?? Number.POSITIVE_INFINITY);
  return seconds * 1000;
}

/** Config problems (path, message) with store deadlines that do not fit in the lease. */
export function storeDeadlineProblems(config: {
  stores: ReadonlyArray<{ timeoutSeconds?: number | undefined }>;
  state: StateConfig;
}): Array<{ path: (string | number)[]; message: string }> {
  const bound = maxStoreTimeoutSeconds(config.state);
  if (bound === undefined) return [];
  return config.stores.flatMap((store, index) =>
    store.timeoutSeconds === undefined || store.timeoutSeconds <= bound
      ? []
      : [
          {
            path: ["stores", index, "timeoutSeconds"],
            message:
              `${store.timeoutSeconds} s is more than half of state.leaseSeconds (${config.state.backend === "postgres" ? config.state.leaseSeconds : 0} s): ` +
              "a store call must end well within the lease, or a host frozen inside it could finish it after " +
              `another host took the run over. Lower it to at most ${bound}, or raise state.leaseSeconds to at ` +
              `least ${store.timeoutSeconds * 2}`,
          },
        ],
  );
}
