/** `rotator schedule`'s parsed options: apart from command.ts, which loads run.ts (that needs them) on demand. */
import type { CommonOptions } from "../shared/command-context.js";

export interface ScheduleCommandOptions extends CommonOptions {
  cron: string;
  jitter: number;
  timezone?: string;
}
