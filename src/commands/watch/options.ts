/** `rotator watch`'s parsed options: apart from command.ts, which loads run.ts (that needs them) on demand. */
import type { CommonOptions } from "../shared/command-context.js";

export interface WatchCommandOptions extends CommonOptions {
  interval: number;
  once?: boolean;
  metricsPort?: number;
  metricsHost: string;
}
