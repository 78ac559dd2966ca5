/**
 * A signal (Ctrl-C, SIGTERM from a scheduler or `kubectl delete pod`) asks a run to stop. A run never stops
 * in the middle of a step: the CLI records the request here, and the engine looks at it between steps, where
 * the journal says exactly how far the run got. What happens then depends on the step (see engine/step-runs.ts):
 * before any store holds the new credential the run is undone; while writing stores or waiting for consumers
 * it stops resumable; a revoke or a rollback in progress is finished.
 */
export interface Interruption {
  /** The signal that asked to stop, once one did. */
  readonly signal: string | undefined;
}

export function interruptionRequested(interruption: Interruption | undefined): boolean {
  return interruption?.signal !== undefined;
}

/** A settable interruption for the CLI's signal handlers (and tests). */
export function interruptionSwitch(): Interruption & { request(signal: string): void } {
  let signal: string | undefined;
  return {
    get signal() {
      return signal;
    },
    request(name: string) {
      signal ??= name;
    },
  };
}
