/**
 * `rotator emulator twilio` and `rotator emulator azure-key-vault`: the project's own stateful servers, for
 * trying rotator locally and for its tests. Each prints one JSON line with what a client needs, then serves
 * until Ctrl-C or SIGTERM.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { ExitCode } from "../../errors.js";
import { parseSignedDuration } from "../../util/duration.js";
import type { CommandContext } from "../shared/command-context.js";
import { examples } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface TwilioOptions {
  port: number;
  host: string;
  accountSid?: string;
  authToken?: string;
  subaccounts?: number;
  subaccountPrefix?: string;
  rateLimit?: number;
  maxConcurrentRequests?: number;
  faults?: string;
  clockOffset?: number;
  signingLagMs: number;
}

interface KeyVaultOptions {
  port: number;
  authorityPort: number;
  certDir?: string;
  tenantId?: string;
  clientId?: string;
}

export const emulatorCommand = defineCommand<Record<string, never>>({
  name: "emulator",
  description: "local emulators of Twilio and Azure Key Vault, for trying rotator and for tests",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command, context) => {
    registerTwilio(command, context);
    registerKeyVault(command, context);
  },
  examples: [
    ["rotator emulator twilio --port 4010", "a Twilio on http://127.0.0.1:4010"],
    ["rotator emulator azure-key-vault --port 8443", "an Azure Key Vault on https://127.0.0.1:8443"],
  ],
});

function registerTwilio(emulator: Command, { runtime, exit }: CommandContext): void {
  emulator
    .command("twilio")
    .description("run the Twilio emulator; prints one JSON line {baseUrl, accountSid, authToken} once listening")
    .addOption(new Option("--port <n>", "port (0 = any free port)").default(0).argParser(parsePort("--port")))
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--account-sid <sid>", "account SID to create (default: random)")
    .option("--auth-token <token>", "its auth token (default: random)")
    .addOption(
      new Option("--subaccounts <n>", "make this many subaccounts (their SIDs and tokens are in the line)").argParser(
        count("--subaccounts", 1000),
      ),
    )
    .option("--subaccount-prefix <name>", "their FriendlyName before the number", "subaccount-")
    .addOption(
      new Option(
        "--rate-limit <per-second>",
        "answer 429 (20429, Retry-After) beyond this many requests a second",
      ).argParser(rate),
    )
    .addOption(
      new Option(
        "--max-concurrent-requests <n>",
        "and beyond this many requests in flight (Twilio's own limit)",
      ).argParser(count("--max-concurrent-requests", 100_000)),
    )
    .option("--faults <file>", "faults in force from the start: a JSON array, as POST /__emulator/faults takes")
    .addOption(
      new Option(
        "--clock-offset <duration>",
        "run the clock this far from the real one: -91d dates keys made now 91 days ago",
      ).argParser(signedDurationOption),
    )
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
      `
To see a key due for rotation: start with --clock-offset -91d, make the key
(it is dated 91 days ago), then put the clock right with POST
/__emulator/clock {"offset": "0"} (or {"advance": "91d"}): rotator, on the
real clock, finds it 91 days old, and \`rotate --if-due\` rotates it. Other
admin endpoints (loopback only) under /__emulator/: faults, snapshot, keys,
main-keys, subaccounts, stats. README "Trying it locally" has the rest.
${examples([
  ["rotator emulator twilio --port 4010", "serve on http://127.0.0.1:4010 until Ctrl-C"],
  ["rotator emulator twilio --subaccounts 50 --rate-limit 100", "a fleet of 50, throttled"],
  ["rotator emulator twilio --clock-offset -91d", "keys made now are dated 91 days ago"],
  ["rotator emulator twilio --faults faults.json", 'e.g. [{"kind": "latency", "latencyMs": 500}]'],
  ['curl -X POST -d \'{"offset": "0"}\' http://127.0.0.1:4010/__emulator/clock', "put the clock right"],
  ["rotator emulator twilio --signing-lag-ms 2000", "webhooks signed with the old token for 2 s after a promote"],
])}`,
    )
    .action(async (options: TwilioOptions) => {
      try {
        const { runTwilioEmulatorCommand } = await import("../../emulator/cli.js");
        const faults = options.faults === undefined ? undefined : await readFaults(options.faults);
        const emulator = await runTwilioEmulatorCommand(
          {
            port: options.port,
            host: options.host,
            signingLagMs: options.signingLagMs,
            ...(options.accountSid === undefined ? {} : { accountSid: options.accountSid }),
            ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
            ...(options.subaccounts === undefined
              ? {}
              : { subaccounts: options.subaccounts, subaccountPrefix: options.subaccountPrefix ?? "subaccount-" }),
            ...(options.rateLimit === undefined
              ? {}
              : {
                  rateLimit: {
                    requestsPerSecond: options.rateLimit,
                    ...(options.maxConcurrentRequests === undefined
                      ? {}
                      : { maxConcurrentRequests: options.maxConcurrentRequests }),
                  },
                }),
            ...(faults === undefined ? {} : { faults, faultsSource: `--faults ${options.faults}` }),
            ...(options.clockOffset === undefined ? {} : { clockOffsetMs: options.clockOffset }),
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
    });
}

function registerKeyVault(emulator: Command, { runtime, exit }: CommandContext): void {
  emulator
    .command("azure-key-vault")
    .description(
      "run the Azure Key Vault emulator (HTTPS, with an Entra-shaped authority); prints one JSON line {vaultUrl, authorityHost, tenantId, clientId, clientSecret, caFile}",
    )
    .addOption(
      new Option("--port <n>", "the vault's port (0 = any free port)").default(0).argParser(parsePort("--port")),
    )
    .addOption(
      new Option("--authority-port <n>", "the authority's port (0 = any free port)")
        .default(0)
        .argParser(parsePort("--authority-port")),
    )
    .option("--cert-dir <dir>", "keep its CA and certificate here, reused next time (default: a temporary one)")
    .option("--tenant-id <guid>", "the tenant (default: random)")
    .option("--client-id <guid>", "the application's id (default: random)")
    .addHelpText(
      "after",
      `
It listens on 127.0.0.1 only, with a CA it makes with openssl (trust that,
never turn verification off: NODE_EXTRA_CA_CERTS=<caFile> for rotator). The
application in the line has every permission; its secret is made up for this
run (KEYVAULT_EMULATOR_CLIENT_SECRET fixes it). A store for it:
  { name: kv, type: azure-key-vault, vaultUrl: <vaultUrl>, secretName: twilio,
    auth: { tenantId: <tenantId>, clientId: <clientId>,
            clientSecret: { env: AZURE_CLIENT_SECRET },
            authorityHost: <authorityHost> } }
Held to Azure's published REST spec; rotator is not tested against Azure.
${examples([
  ["rotator emulator azure-key-vault --port 8443", "serve on https://127.0.0.1:8443"],
  ["rotator emulator azure-key-vault --cert-dir ~/.kv-tls", "keep the CA across restarts"],
])}`,
    )
    .action(async (options: KeyVaultOptions) => {
      try {
        const { runKeyVaultEmulatorCommand } = await import("../../keyvault-emulator/cli.js");
        const server = await runKeyVaultEmulatorCommand(
          {
            port: options.port,
            authorityPort: options.authorityPort,
            ...(options.certDir === undefined ? {} : { certDir: options.certDir }),
            ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
            ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
            env: runtime.env,
          },
          runtime.stdout,
        );
        await new Promise<void>((resolve) => {
          const close = server.close;
          server.close = () => close().finally(resolve);
        });
      } catch (error) {
        runtime.stderr.write(`rotator: ${error instanceof Error ? error.message : String(error)}\n`);
        exit.code = ExitCode.badInput;
      }
    });
}

/** The faults file: a JSON array of faults (each checked when the emulator adds it). */
async function readFaults(file: string): Promise<unknown[]> {
  const { readFile } = await import("node:fs/promises");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`--faults ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`--faults ${file}: not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) {
    throw new Error(`--faults ${file}: must hold a JSON array of faults, e.g. [{"kind": "latency", "latencyMs": 500}]`);
  }
  return parsed;
}

function parsePort(flag: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new InvalidArgumentError(`${flag} must be a whole number from 0 to 65535, not "${value}"`);
    }
    return port;
  };
}

function count(flag: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${flag} must be 1 to ${max}`);
    return n;
  };
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("--rate-limit must be a positive number of requests a second");
  return n;
}

/** `-91d`, `36h`, `0`: milliseconds, negative behind the real clock. */
function signedDurationOption(value: string): number {
  const ms = parseSignedDuration(value);
  if (typeof ms === "string") throw new InvalidArgumentError(ms);
  return ms;
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
