/** `rotator sync`: every store to a credential the operator supplies; nothing issued or revoked. */
import { RUN_OUTCOME_EVENTS } from "../../notify/events.js";
import type { CommonOptions } from "../shared/command-context.js";
import { defineCommand } from "../shared/define-command.js";

interface SyncCommandOptions extends CommonOptions {
  fromEnv?: string;
  fromStore?: string;
  keySid?: string;
  yes?: boolean;
}

export const syncCommand = defineCommand<SyncCommandOptions>({
  name: "sync",
  description:
    "write a credential you supply to every store (all-or-nothing) and wait for consumers; nothing is issued or revoked",
  commonOptions: "config",
  fleet: undefined,
  notifies: RUN_OUTCOME_EVENTS,
  changesStores: true,
  configure: (command) =>
    command
      .option("--from-env <name>", "the variable holding the token (or, with --key-sid, the key secret)")
      .option("--from-store <store>", "copy what this store of the config holds to every other store")
      .option("--key-sid <sid>", "api-key configs with --from-env: the key whose secret the variable holds"),
  help: `
For stores that no longer match Twilio: a token promoted in the Console or
reset by Twilio, stores that drifted apart. The credential is checked with
Twilio before any store is written. For an Auth Token config whose admin
credential is the dead token (admin: { authToken: { fromStore } } reads it
from a store), the supplied token, once checked, acts as the admin credential.
`,
  examples: [
    ["rotator sync --from-env NEW_TWILIO_AUTH_TOKEN", "the token Twilio gave you"],
    ["rotator sync --from-store vault", "make every store match vault"],
    ["rotator sync --from-store vault --yes --json", "the same from a script"],
  ],
  async run({ options, context, definition }) {
    if (options.keySid !== undefined && options.fromStore !== undefined) {
      // --from-store copies the key's SID with its secret; a --key-sid beside it would be ignored.
      context.runtime.stderr.write(
        "rotator: --key-sid goes with --from-env (it names the key whose secret the variable holds); --from-store copies the key SID and its secret from that store, so drop --key-sid\n",
      );
      context.exit.code = 2;
      return;
    }
    const [{ runConfigCommand }, { sync }, { renderRun }, { packageVersion }, { asksFirst, askToTakeSteps }] =
      await Promise.all([
        import("../shared/run-config-command.js"),
        import("./run.js"),
        import("../shared/render-run.js"),
        import("../../util/package-root.js"),
        import("../shared/confirm.js"),
      ]);
    const { runtime } = context;
    const interactive = asksFirst(options, runtime);
    await runConfigCommand({
      definition,
      options,
      context,
      action: (engine, { output }) =>
        sync(engine, {
          ...(options.fromEnv === undefined ? {} : { fromEnv: options.fromEnv }),
          ...(options.fromStore === undefined ? {} : { fromStore: options.fromStore }),
          ...(options.keySid === undefined ? {} : { keySid: options.keySid }),
          version: packageVersion(),
          ...(interactive
            ? {
                confirm: (request) => askToTakeSteps("sync", request, runtime, output),
              }
            : {}),
        }),
      render: renderRun,
    });
  },
});
