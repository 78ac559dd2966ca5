/** `rotator schedule`: a long-running scheduler that rotates when due, on a cron expression. */
import { InvalidArgumentError, Option } from "commander";
import { parseDuration } from "../../util/duration.js";
import { defineCommand } from "../shared/define-command.js";
import type { ScheduleCommandOptions } from "./options.js";

export const scheduleCommand = defineCommand<ScheduleCommandOptions>({
  name: "schedule",
  description: "run `rotate --if-due` on a cron schedule until stopped (a long-running alternative to cron)",
  commonOptions: "config",
  fleet: undefined,
  // Its runs are rotate's and resume's, and notify as theirs do (schedule/run.ts runs them with their definitions).
  notifies: [],
  changesStores: false,
  configure: (command) =>
    command
      .requiredOption("--cron <expression>", 'when to run, e.g. "0 3 * * *" (a sixth, leading field: seconds)')
      .addOption(
        new Option("--jitter <duration>", "wait a random time up to this before each run")
          .default(300_000, "5m")
          .argParser(duration),
      )
      .addOption(
        new Option(
          "--timezone <zone>",
          "the cron expression's time zone (default: the machine's), e.g. Europe/Dublin",
        ).argParser(timeZone),
      ),
  help: `
On start it resumes an unfinished run of this config. Runs never overlap: a
time that comes while a run is going is skipped (and logged). SIGTERM or
Ctrl-C stops the run in progress after its current step, then the
scheduler; exit 0, or 130 when a run had to be interrupted (the next start
resumes it). Each decision is logged (one JSON line each with --json).
`,
  examples: [
    ['rotator schedule --cron "0 3 * * *"', "every night at 03:00, jitter up to 5 min"],
    ['rotator schedule --cron "0 3 * * 1" --jitter 30m', "Mondays, spread over 30 min"],
  ],
  async run({ options, context }) {
    const { runScheduleCommand } = await import("./run.js");
    await runScheduleCommand(options, context);
  },
});

/** An IANA zone this machine's Node knows: Intl refuses any other (and croner would only fail at its first run). */
function timeZone(value: string): string {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
  } catch {
    throw new InvalidArgumentError(
      "not a time zone this machine knows: give an IANA name such as Europe/Dublin, America/New_York or UTC (`timedatectl list-timezones` lists them)",
    );
  }
  return value;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (typeof ms === "string") throw new InvalidArgumentError(ms);
  return ms;
}
