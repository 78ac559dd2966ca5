/**
 * The `rotator` executable: the real process handed to the program (program.ts). Progress goes to stderr,
 * the result to stdout (`--json`: one object); the exit code says how it ended (EXIT CODES in --help).
 */
import { inspect } from "node:util";
import { ExitCode } from "../errors.js";
import { redact } from "../util/mask.js";
import { runProgram } from "./program.js";
import { processRuntime } from "./runtime.js";

// A closed stdout or stderr (`rotator rotate | head -n 3`, a dead log shipper) must never end a run
// half-way: an EPIPE on a write is an "error" event, which would otherwise kill the process with an orphan
// key and a stale lock. Output to a closed stream is dropped; the run goes on to its end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
  });
}

// rotator pins an AWS SDK release that supports Node 20; the SDK's notice about future releases needing
// Node 22 is for whoever upgrades that pin, not for an operator reading a rotation's progress.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// A bug's error reaches stderr through the same redaction as everything else, never through node's own
// printing of an uncaught error (which would quote an SDK error's headers as they are).
const crashed = (error: unknown): number => {
  process.stderr.write(
    `rotator: internal error (a bug: please report it with the journal): ${redact(inspect(error))}\n`,
  );
  return ExitCode.internal;
};
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (error: unknown) => process.exit(crashed(error)));
}

const code = await runProgram(process.argv.slice(2), processRuntime()).catch(crashed);
// A pipe takes large writes asynchronously: a fleet's `--json` result (a thousand accounts) must reach the
// reader whole before the exit, or it is cut off mid-object. Bounded, so a reader that stopped reading
// cannot hold a finished run either.
await Promise.race([
  Promise.all([process.stdout, process.stderr].map(flushed)),
  new Promise((resolve) => setTimeout(resolve, 30_000).unref()),
]);
// Exit now: consumer probes' sockets or an SDK's keep-alive timers must not keep a finished run alive.
process.exit(code);

/** Resolves once what was written to the stream before has been handed to the OS (or it is closed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write("", () => resolve()));
}
