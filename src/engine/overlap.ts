/**
 * Unfinished runs of *other* configs that share a store with this one. A run belongs to the config it was
 * started with (its credentialKey), but a store belongs to every config naming it: while config X's run is
 * unfinished (say, awaiting consumers), a config Y naming one of X's stores must not rotate it, or it would
 * revoke the key X's other stores still hold.
 */
import { ExitCode, RotatorError } from "../errors.js";
import { credentialKey, type EngineContext, storeRefs } from "./context.js";
import { defaultStateDir, isUnfinished, listRuns, type RunSummary } from "./journal.js";
import { describeIdentity, type StoreRef } from "./lock.js";

/** The identities of the stores a run writes, from its run-started record. */
export function runStoreIdentities(run: RunSummary): string[] {
  return (run.started?.stores ?? []).map((store) => store.identity ?? `${store.type}:${store.location}`);
}

export interface Overlap {
  run: RunSummary;
  /** This config's stores that the run writes too. */
  shared: StoreRef[];
}

type OverlapContext = Pick<EngineContext, "loaded" | "stores" | "stateDir" | "env">;

/** Unfinished runs started by another config (another credentialKey) sharing a store with this one, oldest first. */
export function overlappingRuns(context: OverlapContext): Overlap[] {
  const key = credentialKey(context);
  const ours = storeRefs(context);
  return listRuns(context.stateDir)
    .filter((run) => run.started !== undefined && run.started.credentialKey !== key && isUnfinished(run))
    .map((run) => {
      const theirs = new Set(runStoreIdentities(run));
      return { run, shared: ours.filter((store) => theirs.has(store.identity)) };
    })
    .filter((overlap) => overlap.shared.length > 0);
}

/** `run R of config /x.yaml is not finished and shares store app-1 (dotenv file /a.env) with this config`. */
export function describeOverlap(context: OverlapContext, overlap: Overlap): string {
  const { run, shared } = overlap;
  const configFile = run.started?.configFile;
  const origin =
    configFile === undefined
      ? "of another config (started by an older rotator, which did not journal its config file)"
      : configFile === context.loaded.file
        ? `of this config file as it was before its stores changed (then: ${(run.started?.stores ?? []).map((s) => s.name).join(", ")})`
        : `of config ${configFile}`;
  const stores = shared.map((store) => `${store.name} (${describeIdentity(store.identity)})`).join(", ");
  return `run ${run.runId} ${origin} is not finished and shares ${shared.length === 1 ? "store" : "stores"} ${stores} with this config`;
}

/** The command that finishes (or undoes) the run, with the config and state directory it needs. */
export function commandFor(context: OverlapContext, overlap: Overlap, command: "resume" | "rollback"): string {
  const configFile = overlap.run.started?.configFile;
  const config = configFile === undefined ? " --config <its config file>" : ` --config ${configFile}`;
  const stateDir = context.stateDir === defaultStateDir(context.env) ? "" : ` --state-dir ${context.stateDir}`;
  return `rotator ${command}${config}${stateDir}`;
}

/**
 * Exit 6 when an unfinished run of another config shares a store with this one: `rotate` must not touch
 * those stores, and `resume`/`rollback` of this config have nothing of their own to do but must say whose
 * run is in the way instead of "nothing to resume".
 */
export function refuseOverlappingRun(context: OverlapContext, command: "rotate" | "resume" | "rollback"): void {
  const error = overlapError(context, command);
  if (error !== undefined) throw error;
}

/** The error refuseOverlappingRun throws, or undefined when no other config's unfinished run shares a store. */
export function overlapError(
  context: OverlapContext,
  command: "rotate" | "resume" | "rollback",
): RotatorError | undefined {
  const overlap = overlappingRuns(context).at(-1);
  if (overlap === undefined) return undefined;
  const what = describeOverlap(context, overlap);
  const resume = `\`${commandFor(context, overlap, "resume")}\``;
  const rollback = `\`${commandFor(context, overlap, "rollback")}\``;
  const changed =
    overlap.run.started?.configFile === context.loaded.file
      ? "put the config's stores back as they were when the run started, then "
      : "";
  const message =
    command === "rotate"
      ? what
      : command === "resume"
        ? `nothing of this config to resume, but ${what}`
        : `no unfinished run of this config to roll back, but ${what}`;
  const hint =
    command === "rotate"
      ? `${changed}finish that run first with ${resume} (or undo it with ${rollback}); rotating now could revoke the key that run's stores still hold`
      : command === "resume"
        ? `${changed}resume it with the config it was started with: ${resume}`
        : `${changed}roll it back with the config it was started with: ${rollback}`;
  return new RotatorError(message, { exitCode: ExitCode.unfinishedRun, hint });
}
