/**
 * What a command may touch of the process it runs in: its streams, environment, working directory, and
 * its signals. main.ts hands over the real process; tests hand over buffers.
 */
import type { Stream } from "./output.js";

export interface Runtime {
  stdout: Stream & NodeJS.WritableStream;
  stderr: Stream & NodeJS.WritableStream;
  /** For the confirmation prompt; `isTTY` decides whether there is anyone to ask. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Subscribe to SIGINT/SIGTERM for the length of a run; returns the unsubscribe. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
  /** End the process at once (a second Ctrl-C). In-process runs (tests) never do. */
  hardExit(code: number): void;
}

export function processRuntime(): Runtime {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    onSignal(handler) {
      const signals = ["SIGINT", "SIGTERM"] as const;
      for (const signal of signals) process.on(signal, handler);
      return () => {
        for (const signal of signals) process.off(signal, handler);
      };
    },
    hardExit: (code) => process.exit(code),
  };
}
