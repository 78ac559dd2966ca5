/** `rotator rotate`: the whole fixed order, now. */
import { RUN_OUTCOME_EVENTS } from "../../notify/events.js";
import { type CommonOptions, startSandboxFirst } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface RotateCommandOptions extends CommonOptions {
  ifDue?: boolean;
  emergency?: boolean;
  reason?: string;
  revokeImmediately?: boolean;
  allowSharedRevoke?: boolean;
  adminFromEnv?: string;
  yes?: boolean;
}

export const rotateCommand = defineCommand<RotateCommandOptions>({
  name: "rotate",
  description: "rotate the credential now: create, write every store, verify, revoke",
  commonOptions: "config-and-sandbox",
  fleet: { accounts: "listed", startsRuns: true, doneStatus: "completed" },
  notifies: RUN_OUTCOME_EVENTS,
  changesStores: true,
  configure: (command) =>
    command
      .option("--if-due", "only rotate when the current key is older than credential.maxAgeDays (for schedules)")
      .option(
        "--emergency",
        "after a leak or a security reset: skip the age check, shorter consumer deadline; an Auth Token's previous token is retired right after the promote (below)",
      )
      .option("--reason <text>", "why (with --emergency): journaled with the run")
      .option("--revoke-immediately", "with --emergency: revoke once every store holds the new one, not waiting")
      .option("--allow-shared-revoke", "revoke even though stores of other configs are known to hold the old key")
      .option(
        "--admin-from-env <name>",
        "with --emergency: the account's current Auth Token, used as admin if the configured one is refused",
      ),
  help: `
A fleet config (one with accounts:) rotates every account's key, each as its
own unit, several at once under accounts.concurrency and requestsPerSecond
(slower after a 429); one account's failure never stops the others. Progress
(done, failed, remaining, ETA) goes to stderr, a table of accounts to stdout;
the exit code is the most pressing of the accounts' codes.

After a security reset (or a promote in the Console) with admin: { authToken:
{ fromStore: STORE } }, the admin token read from the store is the dead one:
--emergency --admin-from-env NAME gives the account's current token, checked
with Twilio, to act as the admin credential instead.

An Auth Token rotation keeps the old token in the stores beside the new one
until credential.webhookSigningLagSeconds after the promote, so apps accept
webhooks Twilio still signs with it. --emergency (a leak) retires it right
after the promote instead, with no signing lag: apps stop trusting the leaked
token at once, but webhooks Twilio signed with it before its propagation ends
may be rejected (the result's previous.cost says so). The retire is a second
all-or-nothing write to every store, after Twilio already refuses the old token.
`,
  examples: [
    ["rotator rotate --sandbox", "a whole rotation on the built-in sandbox"],
    ["rotator rotate --sandbox --credential auth-token", "the Auth Token, with apps taking webhooks"],
    ["rotator rotate", "rotate, after showing the plan"],
    ["rotator rotate --if-due --yes", "the scheduled job: only when due"],
    ["rotator rotate --emergency --yes", "after a leak or a security reset"],
    ["rotator rotate --emergency --revoke-immediately --reason 'leak'", "revoke at once"],
    ["rotator rotate --emergency --admin-from-env CURRENT_TOKEN", "the stores' token was reset by Twilio"],
    ["rotator rotate --config fleet.yaml --yes --json", "a fleet: each account's result"],
  ],
  async run({ options, context, definition }) {
    if ((options.reason !== undefined || options.revokeImmediately) && !options.emergency) {
      context.runtime.stderr.write("rotator: --reason and --revoke-immediately go with --emergency\n");
      context.exit.code = 2;
      return;
    }
    if (options.ifDue && options.emergency) {
      // Each would silently defeat the other: --if-due skips a key younger than maxAgeDays, and an
      // emergency rotates whatever the key's age.
      context.runtime.stderr.write(
        "rotator: --if-due and --emergency contradict each other: --if-due rotates only a key older than credential.maxAgeDays, --emergency rotates now whatever its age; drop --if-due for an emergency (or --emergency for the scheduled job)\n",
      );
      context.exit.code = 2;
      return;
    }
    if (options.adminFromEnv !== undefined && !options.emergency) {
      context.runtime.stderr.write("rotator: --admin-from-env goes with --emergency\n");
      context.exit.code = 2;
      return;
    }
    const commandOptions = startSandboxFirst(options, context);
    if (commandOptions === undefined) return;
    const [
      { runConfigCommand },
      { rotate },
      { renderRun },
      { packageVersion },
      { askToConfirm, askToConfirmFleet },
      { fleetRunCommand },
      { asksFirst },
    ] = await Promise.all([
      import("../shared/run-config-command.js"),
      import("./run.js"),
      import("../shared/render-run.js"),
      import("../../util/package-root.js"),
      import("./confirm.js"),
      import("../shared/fleet-command.js"),
      import("../shared/confirm.js"),
    ]);
    const { runtime } = context;
    const interactive = asksFirst(options, runtime);
    const rotateOptions = {
      ifDue: options.ifDue ?? false,
      emergency: options.emergency ?? false,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      revokeImmediately: options.revokeImmediately ?? false,
      allowSharedRevoke: options.allowSharedRevoke ?? false,
      ...(options.adminFromEnv === undefined ? {} : { adminFromEnv: options.adminFromEnv }),
      version: packageVersion(),
    };
    await runConfigCommand({
      definition,
      options: commandOptions,
      context,
      action: (engine, helpers) =>
        rotate(engine, {
          ...rotateOptions,
          ...(interactive ? { confirm: (request) => askToConfirm(request, runtime, helpers.output) } : {}),
        }),
      render: renderRun,
      // A fleet asks once, for every account, before any starts.
      fleet: fleetRunCommand(
        definition,
        (engine) => rotate(engine, rotateOptions),
        ({ output }) => (interactive ? { confirm: (accounts) => askToConfirmFleet(accounts, runtime, output) } : {}),
      ),
    });
  },
});
