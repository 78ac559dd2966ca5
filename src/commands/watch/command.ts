/** `rotator watch`: keep checking that every store's credential and every consumer authenticate. */
import { InvalidArgumentError, Option } from "commander";
import { WATCH_EVENTS } from "../../notify/events.js";
import { parseDuration } from "../../util/duration.js";
import { defineCommand } from "../shared/define-command.js";
import type { WatchCommandOptions } from "./options.js";

export const watchCommand = defineCommand<WatchCommandOptions>({
  name: "watch",
  description: "check on an interval that the stores' credential and every consumer authenticate; alert on failure",
  commonOptions: "config",
  fleet: undefined,
  notifies: WATCH_EVENTS,
  changesStores: false,
  configure: (command) =>
    command
      .addOption(
        new Option("--interval <duration>", "time between checks, e.g. 30s, 1m")
          .default(30_000, "30s")
          .argParser(duration),
      )
      .option("--once", "check once and exit: 0 healthy, 2 on a failure (for cron)")
      .addOption(new Option("--metrics-port <n>", "serve Prometheus metrics on this port (0: any)").argParser(port))
      .option("--metrics-host <host>", "address for the metrics server", "127.0.0.1"),
  help: `
On the first failing check, watch sends the config's notify: targets a
watch-failure event (within that interval), and watch-recovered once a check
passes again. The last verdict is kept in the state directory.
`,
  examples: [
    ["rotator watch --interval 30s", "check every 30 s until stopped"],
    ["rotator watch --once", "one check, for cron (exit 2 on a failure)"],
    ["rotator watch --metrics-port 9464 --metrics-host 0.0.0.0", "also serve /metrics"],
  ],
  async run({ options, context }) {
    const { runWatchCommand } = await import("./run.js");
    await runWatchCommand(options, context);
  },
});

function duration(value: string): number {
  const ms = parseDuration(value);
  if (typeof ms === "string") throw new InvalidArgumentError(ms);
  if (ms < 100) throw new InvalidArgumentError("--interval must be at least 100ms");
  return ms;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError(`--metrics-port must be 0 to 65535, not "${value}"`);
  return n;
}
