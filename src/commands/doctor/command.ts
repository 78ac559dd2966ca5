/** `rotator doctor`: diagnose a Twilio credential (the environment's, a dotenv file's, or every store's). */
import { defineCommand } from "../shared/define-command.js";
import type { DoctorCommandOptions } from "./options.js";

export const doctorCommand = defineCommand<DoctorCommandOptions>({
  name: "doctor",
  description: "diagnose a Twilio credential: format, 20003 causes with fixes, drift",
  commonOptions: "none",
  fleet: undefined,
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .option("--dotenv <path>", "check the credential in this dotenv file (TWILIO_ACCOUNT_SID, ...)")
      .option(
        "-c, --config <path>",
        "check every store of this config, and its admin credential (default: $ROTATOR_CONFIG, else ./rotator.yaml or .yml when there is one)",
      )
      .option("--env", "check the environment's TWILIO_* variables too (the default without a config or --dotenv)")
      .option(
        "--state-dir <dir>",
        "journals that may say which run revoked a dead credential (default: $ROTATOR_STATE_DIR, else $XDG_STATE_HOME/rotator)",
      )
      .option("--base-url <url>", "a Twilio emulator's origin, for env and dotenv credentials")
      .option("--offline", "only the checks that need no call to Twilio")
      .option("--json", "print one JSON object with one finding per check")
      .option("--no-color", "no color or emphasis"),
  help: `
Finds its config as every command does: --config, else $ROTATOR_CONFIG, else
./rotator.yaml (or .yml) when the directory has one; without any, it checks
the environment's credential. Reads TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN,
or TWILIO_API_KEY with TWILIO_API_SECRET, and TWILIO_REGION / TWILIO_EDGE as
Twilio's helper libraries do. A dead credential that a journal in the state
directory (or the config's state database) revoked is named with its run.
Never prints a secret. Exit 0 when healthy, 2 otherwise.
`,
  examples: [
    ["rotator doctor", "./rotator.yaml's stores, else this shell's environment"],
    ["rotator doctor --dotenv /etc/app/twilio.env", "the one an app loads"],
    ["rotator doctor --config rotator.yaml", "every store, the admin credential, drift"],
    ["rotator doctor --json | jq '.findings[] | select(.ok | not)'", "what is wrong"],
  ],
  async run({ options, context }) {
    const { runDoctorCommand } = await import("./run.js");
    await runDoctorCommand(options, context);
  },
});
