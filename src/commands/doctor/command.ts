/** `rotator doctor`: diagnose a Twilio credential (the environment's, a dotenv file's, or every store's). */
import type { Command } from "commander";
import type { CommandContext } from "../shared/command-context.js";
import { examples } from "../shared/command-context.js";

export interface DoctorCommandOptions {
  config?: string;
  stateDir?: string;
  /** Not `--env-file`: node reads that option itself (bin/rotator.js says how). */
  dotenv?: string;
  env?: boolean;
  baseUrl?: string;
  offline?: boolean;
  json?: boolean;
  color?: boolean;
}

export function registerDoctorCommand(program: Command, context: CommandContext): void {
  program
    .command("doctor")
    .description("diagnose a Twilio credential: format, 20003 causes with fixes, drift")
    .option("--dotenv <path>", "check the credential in this dotenv file (TWILIO_ACCOUNT_SID, ...)")
    .option("-c, --config <path>", "check every store of this config, and its admin credential")
    .option("--env", "check the environment's TWILIO_* variables too (the default without the two above)")
    .option("--state-dir <dir>", "journals that may say which run revoked a dead credential")
    .option("--base-url <url>", "a Twilio emulator's origin, for env and dotenv credentials")
    .option("--offline", "only the checks that need no call to Twilio")
    .option("--json", "print one JSON object with one finding per check")
    .option("--no-color", "no color or emphasis")
    .addHelpText(
      "after",
      `
Reads TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or TWILIO_API_KEY with
TWILIO_API_SECRET, and TWILIO_REGION / TWILIO_EDGE as Twilio's helper
libraries do. Never prints a secret. Exit 0 when healthy, 2 otherwise.
${examples([
  ["rotator doctor", "the credential in this shell's environment"],
  ["rotator doctor --dotenv /etc/app/twilio.env", "the one an app loads"],
  ["rotator doctor --config rotator.yaml", "every store, the admin credential, drift"],
  ["rotator doctor --json | jq '.findings[] | select(.ok | not)'", "what is wrong"],
])}`,
    )
    .action(async (options: DoctorCommandOptions) => {
      const { runDoctorCommand } = await import("./run.js");
      await runDoctorCommand(options, context);
    });
}
