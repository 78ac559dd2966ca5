/**
 * `rotator emulator twilio`: start the emulator, print one JSON line with its origin and main-account
 * credentials (they are the emulator's own, made up for this run), and run until SIGINT or SIGTERM.
 */
import { startTwilioEmulator, type TwilioEmulator } from "./emulator.js";

export interface TwilioEmulatorCommandOptions {
  port?: number;
  host?: string;
  accountSid?: string;
  authToken?: string;
  specDir?: string;
  /** See TwilioEmulatorOptions.signingLagMs. */
  signingLagMs?: number;
}

export async function runTwilioEmulatorCommand(
  opts: TwilioEmulatorCommandOptions,
  out: { write(text: string): unknown } = process.stdout,
): Promise<TwilioEmulator> {
  const emulator = await startTwilioEmulator(opts);
  const close = emulator.close;
  const onSignal = () => {
    void emulator.close();
  };
  // Closing by either route (a signal, or the caller) removes the handlers, so the process can exit.
  // close is swapped in place rather than the object copied: a copy would freeze the live authToken getter.
  emulator.close = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return close();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  out.write(
    `${JSON.stringify({ baseUrl: emulator.baseUrl, accountSid: emulator.accountSid, authToken: emulator.authToken })}\n`,
  );
  return emulator;
}
