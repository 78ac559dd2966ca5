/** Building probes from config. */
import { createCommandProbe } from "./command-probe.js";
import { createHttpProbe } from "./http-probe.js";
import { createKubernetesProbe } from "./kubernetes/probe.js";
import type { ConsumerProbe } from "./probe.js";
import type { ConsumerEntry } from "./schema.js";

export function createProbe(
  entry: ConsumerEntry,
  options: { baseDir: string; env: Readonly<Record<string, string | undefined>> },
): ConsumerProbe {
  switch (entry.type) {
    case "http":
      return createHttpProbe(entry, options);
    case "command":
      return createCommandProbe(entry, options);
    case "kubernetes":
      return createKubernetesProbe(entry, options);
  }
}

export type { ConsumerProbe, Expected, ProbeReport, ProbeState } from "./probe.js";
