/**
 * `rotator emulator twilio`: start the emulator, print one JSON line with its origin and main-account
 * credentials (they are the emulator's own, made up for this run; with subaccounts, theirs too), and run until
 * SIGINT or SIGTERM.
 */
import { closeOnSignals } from "../server-kit/listener.js";
import { startTwilioEmulator, type TwilioEmulator } from "./emulator.js";
import type { FaultInput } from "./faults.js";
import type { RateLimitInput } from "./rate-limit.js";

export interface TwilioEmulatorCommandOptions {
  port?: number;
  host?: string;
  accountSid?: string;
  authToken?: string;
  specDir?: string;
  /** See TwilioEmulatorOptions.signingLagMs. */
  signingLagMs?: number;
  /** Subaccounts of the main account to make at start, named `${subaccountPrefix}${i}`. */
  subaccounts?: number;
  subaccountPrefix?: string;
  rateLimit?: RateLimitInput;
  /** Faults in force from the start, as POST /__emulator/faults takes them (each is checked when added). */
  faults?: readonly unknown[];
  /** Where the faults came from, for messages (`--faults FILE`). */
  faultsSource?: string;
  clockOffsetMs?: number;
}

export async function runTwilioEmulatorCommand(
  opts: TwilioEmulatorCommandOptions,
  out: { write(text: string): unknown } = process.stdout,
): Promise<TwilioEmulator> {
  const emulator = await startTwilioEmulator({
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.accountSid === undefined ? {} : { accountSid: opts.accountSid }),
    ...(opts.authToken === undefined ? {} : { authToken: opts.authToken }),
    ...(opts.specDir === undefined ? {} : { specDir: opts.specDir }),
    ...(opts.rateLimit === undefined ? {} : { rateLimit: opts.rateLimit }),
    ...(opts.clockOffsetMs === undefined ? {} : { clockOffsetMs: opts.clockOffsetMs }),
    ...(opts.signingLagMs === undefined ? {} : { signingLagMs: opts.signingLagMs }),
  });
  let subaccounts: Array<{ sid: string; friendlyName: string; authToken: string }> = [];
  try {
    for (const [index, fault] of (opts.faults ?? []).entries()) {
      try {
        emulator.faults.add(fault as FaultInput);
      } catch (error) {
        const where = opts.faultsSource === undefined ? "" : `${opts.faultsSource}: `;
        throw new Error(`${where}fault ${index + 1}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (opts.subaccounts !== undefined && opts.subaccounts > 0) {
      subaccounts = emulator.createSubaccounts(opts.subaccounts, {
        ...(opts.subaccountPrefix === undefined ? {} : { friendlyNamePrefix: opts.subaccountPrefix }),
      });
    }
  } catch (error) {
    await emulator.close();
    throw error;
  }
  // close is swapped in place rather than the object copied: a copy would freeze the live authToken getter.
  closeOnSignals(emulator);
  out.write(
    `${JSON.stringify({
      baseUrl: emulator.baseUrl,
      accountSid: emulator.accountSid,
      authToken: emulator.authToken,
      ...(subaccounts.length > 0 ? { subaccounts } : {}),
    })}\n`,
  );
  return emulator;
}
