/** `rotator sync`: every store to a credential the operator supplies; nothing issued or revoked. */
import type { Command } from "commander";
import { addCommonOptions, type CommandContext, type CommonOptions, examples } from "../shared/command-context.js";

interface SyncCommandOptions extends CommonOptions {
  fromEnv?: string;
  fromStore?: string;
  keySid?: string;
}

export function registerSyncCommand(program: Command, context: CommandContext): void {
  addCommonOptions(
    program
      .command("sync")
      .description(
        "write a credential you supply to every store (all-or-nothing) and wait for consumers; nothing is issued or revoked",
      ),
  )
    .option("--from-env <name>", "the variable holding the token (or, with --key-sid, the key secret)")
    .option("--from-store <store>", "copy what this store of the config holds to every other store")
    .option("--key-sid <sid>", "api-key configs with --from-env: the key whose secret the variable holds")
    .addHelpText(
      "after",
      `
For stores that no longer match Twilio: a token promoted in the Console or
reset by Twilio, stores that drifted apart. The credential is checked with
Twilio before any store is written. For an Auth Token config whose admin
credential is the dead token (admin: { authToken: { fromStore } } reads it
from a store), the supplied token, once checked, acts as the admin credential.
${examples([
  ["rotator sync --from-env NEW_TWILIO_AUTH_TOKEN", "the token Twilio gave you"],
  ["rotator sync --from-store vault", "make every store match vault"],
])}`,
    )
    .action(async (options: SyncCommandOptions) => {
      if (options.keySid !== undefined && options.fromStore !== undefined) {
        // --from-store copies the key's SID with its secret; a --key-sid beside it would be ignored.
        context.runtime.stderr.write(
          "rotator: --key-sid goes with --from-env (it names the key whose secret the variable holds); --from-store copies the key SID and its secret from that store, so drop --key-sid\n",
        );
        context.exit.code = 2;
        return;
      }
      const [{ runConfigCommand }, { sync }, { renderRun }, { packageVersion }] = await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("../shared/render-run.js"),
        import("../../util/package-root.js"),
      ]);
      await runConfigCommand(
        "sync",
        options,
        context,
        (engine) =>
          sync(engine, {
            ...(options.fromEnv === undefined ? {} : { fromEnv: options.fromEnv }),
            ...(options.fromStore === undefined ? {} : { fromStore: options.fromStore }),
            ...(options.keySid === undefined ? {} : { keySid: options.keySid }),
            version: packageVersion(),
          }),
        renderRun,
      );
    });
}
