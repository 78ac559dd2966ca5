/** `rotator emulator twilio`: the built-in Twilio emulator, for trying rotator and for tests. */
import { type Command, InvalidArgumentError, Option } from "commander";
import { ExitCode } from "../../errors.js";
import type { CommandContext } from "../shared/command-context.js";
import { examples } from "../shared/command-context.js";

export function registerEmulatorCommand(program: Command, { runtime, exit }: CommandContext): void {
  const emulator = program.command("emulator").description("local emulators for trying rotator and for tests");
  emulator
    .command("twilio")
    .description("run the Twilio emulator; prints one JSON line {baseUrl, accountSid, authToken} once listening")
    .addOption(new Option("--port <n>", "port (0 = any free port)").default(0).argParser(parsePort))
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--account-sid <sid>", "account SID to create (default: random)")
    .option("--auth-token <token>", "its auth token (default: random)")
    .addOption(
      new Option(
        "--signing-lag-ms <ms>",
        "after a token promote, keep signing webhooks with the old primary this long, as Twilio's propagation does",
      )
        .default(0)
        .argParser(parseSigningLag),
    )
    .addHelpText(
      "after",
      examples([
        ["rotator emulator twilio --port 4010", "serve on http://127.0.0.1:4010 until Ctrl-C"],
        ["rotator emulator twilio --signing-lag-ms 2000", "webhooks signed with the old token for 2 s after a promote"],
      ]),
    )
    .action(
      async (options: {
        port: number;
        host: string;
        accountSid?: string;
        authToken?: string;
        signingLagMs: number;
      }) => {
        try {
          const { runTwilioEmulatorCommand } = await import("../../emulator/cli.js");
          const emulator = await runTwilioEmulatorCommand(
            {
              port: options.port,
              host: options.host,
              signingLagMs: options.signingLagMs,
              ...(options.accountSid === undefined ? {} : { accountSid: options.accountSid }),
              ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
            },
            runtime.stdout,
          );
          // Serve until SIGINT or SIGTERM closes it (the command's signal handlers call close()).
          await new Promise<void>((resolve) => {
            const close = emulator.close;
            emulator.close = () => close().finally(resolve);
          });
        } catch (error) {
          runtime.stderr.write(`rotator: ${error instanceof Error ? error.message : String(error)}\n`);
          exit.code = ExitCode.badInput;
        }
      },
    );
}

function parseSigningLag(value: string): number {
  const ms = Number(value);
  if (!/^\d+$/.test(value) || ms > 3_600_000) {
    throw new InvalidArgumentError(
      `--signing-lag-ms must be a whole number of milliseconds from 0 to 3600000, not "${value}"`,
    );
  }
  return ms;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}
