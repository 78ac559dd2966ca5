/** Building probes from config. */
import { createCommandProbe } from "./command-probe.js";
import { createHttpProbe } from "./http-probe.js";
import type { ConsumerProbe } from "./probe.js";
import type { ConsumerEntry } from "./schema.js";

export function createProbe(
  entry: ConsumerEntry,
  options: { baseDir: string; env: Readonly<Record<string, string | undefined>> },
): ConsumerProbe {
  return entry.type === "http" ? createHttpProbe(entry, options) : createCommandProbe(entry, options);
}

export type { ConsumerProbe, Expected, ProbeReport, ProbeState } from "./probe.js";
