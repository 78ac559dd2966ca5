/**
 * A run's facts: what it started with, journaled in its `run-started` record, and what every later decision
 * about it is taken from, whatever config `resume` or `rollback` is invoked with. They are the config's own
 * entries (references such as `{ env: NAME }` stay references; the config never holds a secret):
 *
 * - each store's identity and entry (in `stores`), the consumers with their probe config, the credential's
 *   settings, the admin credential's source (env variable, `fromStore` store, Main key SID) and Twilio's
 *   address (in `facts`); the credential ids are journaled by the steps (`preflight-passed`, `*-issued`).
 *
 * `resume` and `rollback` find the run with the config they are given, then act on the run's facts: the
 * consumers it started with are waited for (plus any the config adds), never fewer unless the operator drops
 * one by name (`--drop-consumer`, journaled). Every way the config differs from the facts is said. A run
 * journaled before facts were (an older rotator) falls back to the config, and says so.
 */

import { isDeepStrictEqual } from "node:util";
import { type LoadedConfig, resolveAdmin, validateConfig } from "../config/load.js";
import { type ConsumerProbe, createProbe } from "../consumer-probes/index.js";
import { type ConsumerEntry, consumerEntrySchema } from "../consumer-probes/schema.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { accountTokenCredential } from "../credentials/stored.js";
import { ConfigError, ExitCode, RotatorError } from "../errors.js";
import { registerSecret } from "../util/mask.js";
import { buildContext, type EngineContext } from "./context.js";
import {
  JOURNAL_VERSION,
  type JournalEvent,
  type JournaledFacts,
  processIdentity,
  type RunSummary,
} from "./journal.js";

type RunStarted = Extract<JournalEvent, { event: "run-started" }>;

/** How a new run goes, as its command was asked (the rest of run-started comes from the context). */
export interface RunStartedOptions {
  command: string;
  mode: "rotate" | "sync";
  emergency?: boolean;
  revokeImmediately?: boolean;
  allowSharedRevoke?: boolean;
  reason?: string;
  version?: string;
  /** `rotate --admin-from-env NAME` (facts.ts JournaledFacts.adminFallbackEnv). */
  adminFallbackEnv?: string;
}

/** The `run-started` record of a new run of this context: who, how, and every fact that binds the run. */
export function runStartedEvent(context: EngineContext, options: RunStartedOptions): RunStarted {
  const { config, file, baseDir } = context.loaded;
  return {
    event: "run-started",
    journalVersion: JOURNAL_VERSION,
    command: options.command,
    mode: options.mode,
    credentialKey: context.credentialKey,
    accountSid: config.twilio.accountSid,
    credentialType: config.credential.type,
    ...credentialTypeOf(config.credential.type).runFacts(config.credential),
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    stores: context.stores.map((store, index) => ({
      name: store.name,
      type: store.type,
      location: store.describe(),
      identity: context.refs[index]?.identity ?? `${store.type}:${store.describe()}`,
      entry: asRecord(config.stores[index]),
    })),
    facts: {
      baseDir,
      admin: asRecord(config.twilio.admin),
      ...(config.twilio.baseUrl === undefined ? {} : { baseUrl: config.twilio.baseUrl }),
      credential: asRecord(config.credential),
      consumers: config.consumers.map(asRecord),
      ...(options.adminFallbackEnv === undefined ? {} : { adminFallbackEnv: options.adminFallbackEnv }),
      ...adminAccountOf(context),
    },
    configFile: file,
    ...processIdentity(),
    version: options.version ?? "unknown",
    emergency: options.emergency ?? false,
    revokeImmediately: options.revokeImmediately ?? false,
    ...(options.allowSharedRevoke ? { allowSharedRevoke: true } : {}),
  };
}

/** A fleet's admin is its parent's credential: journaled, so a rotation of the parent's token knows it. */
function adminAccountOf(context: EngineContext): { adminAccount?: string } {
  const username = context.loaded.admin?.username;
  const account = context.loaded.config.twilio.accountSid;
  return username?.startsWith("AC") && username !== account ? { adminAccount: username } : {};
}

const asRecord = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value ?? {}));

/** The facts a run journaled, or undefined for a run started by an older rotator (which journaled none). */
export function factsOf(
  run: RunSummary,
): { facts: JournaledFacts; entries: Array<Record<string, unknown>> } | undefined {
  const started = run.started;
  const entries = started?.stores.map((store) => store.entry);
  if (started?.facts === undefined || entries === undefined || entries.some((entry) => entry === undefined)) {
    return undefined;
  }
  return { facts: started.facts, entries: entries as Array<Record<string, unknown>> };
}

/** Consumers the operator dropped from the run (`--drop-consumer`), as journaled so far. */
export function droppedConsumersOf(run: RunSummary): string[] {
  return [...new Set(run.records.flatMap((r) => (r.event === "consumers-dropped" ? r.names : [])))];
}

/** The run as this command acts on it: its own context (from its facts), and how the invoked config differs. */
export interface BoundRun {
  context: EngineContext;
  /** Every way the invoked config differs from the run's facts, in words (also journaled in resume-started). */
  differences: string[];
  /** Every consumer the run no longer waits for (journaled drops, and this command's). */
  dropped: string[];
  /** Consumers this command drops now (to journal). */
  droppedNow: string[];
  /** Let go of what was built for the run (the invoked context is its caller's). */
  close(): Promise<void>;
}

/**
 * The context to carry `run` on with: built from the run's facts when the invoked config differs from them
 * in any way that matters (else the invoked context itself, which is then the same thing), its consumers the
 * run's less those dropped, plus any the invoked config adds. `dropNow` names consumers to drop now; each must
 * be one the run waits for (else exit 2, nothing changed).
 */
export async function bindRun(context: EngineContext, run: RunSummary, dropNow: readonly string[]): Promise<BoundRun> {
  const journaled = factsOf(run);
  const droppedBefore = droppedConsumersOf(run);
  if (journaled === undefined) return bindLegacyRun(context, run, droppedBefore, dropNow);
  const { facts, entries } = journaled;
  const { loaded } = context;
  const runConsumers = facts.consumers.map((entry, index) => parseJournaledConsumer(run, entry, index));
  checkDrops(
    run,
    runConsumers.map((c) => c.name),
    dropNow,
  );
  const dropped = [...new Set([...droppedBefore, ...dropNow])];
  const droppedNow = dropNow.filter((name) => !droppedBefore.includes(name));
  const differences = describeDifferences(context, run, runConsumers, dropped, entries, facts);
  for (const name of dropped) {
    differences.push(
      `consumer ${name} is dropped from the run (--drop-consumer${droppedNow.includes(name) ? ", now" : ", journaled earlier"}): it is not waited for`,
    );
  }
  // Waited for: the run's consumers less those dropped, each as this config configures it when it names it (a
  // consumer restarted on another port is the same consumer, moved), plus any this config adds.
  const nowConsumers = loaded.config.consumers;
  const waited = [
    ...runConsumers
      .filter((consumer) => !dropped.includes(consumer.name))
      .map((consumer) => {
        const now = nowConsumers.find((candidate) => candidate.name === consumer.name);
        return now === undefined
          ? { entry: consumer, baseDir: facts.baseDir }
          : { entry: now, baseDir: loaded.baseDir };
      }),
    ...nowConsumers
      .filter((now) => !runConsumers.some((consumer) => consumer.name === now.name) && !dropped.includes(now.name))
      .map((now) => ({ entry: now, baseDir: loaded.baseDir })),
  ];
  const sameConsumers =
    waited.length === nowConsumers.length && waited.every((consumer) => consumer.baseDir === loaded.baseDir);
  const sameRest =
    facts.baseDir === loaded.baseDir &&
    isDeepStrictEqual(facts.admin, asRecord(loaded.config.twilio.admin)) &&
    (facts.baseUrl ?? undefined) === loaded.config.twilio.baseUrl &&
    isDeepStrictEqual(facts.credential, asRecord(loaded.config.credential)) &&
    entries.every((entry, index) => isDeepStrictEqual(entry, asRecord(loaded.config.stores[index])));
  if (sameConsumers && sameRest) {
    await offerJournaledAdmin(context, facts);
    return { context, differences, dropped, droppedNow, close: async () => {} };
  }
  const probes: ConsumerProbe[] = waited.map(({ entry, baseDir }) => createProbe(entry, { baseDir, env: context.env }));
  const runLoaded = runConfig(context, run, facts, entries, differences);
  const bound = await buildContext(runLoaded, {
    stateDir: context.stateDir,
    ...(context.state === undefined ? {} : { state: context.state }),
    reporter: context.reporter,
    env: context.env,
    consumers: probes,
    ...(context.interruption === undefined ? {} : { interruption: context.interruption }),
  });
  const journaledIdentities = (run.started?.stores ?? []).map((s) => s.identity).sort();
  const nowIdentities = bound.refs.map((ref) => ref.identity).sort();
  if (!isDeepStrictEqual(journaledIdentities, nowIdentities)) {
    await closeStores(bound);
    throw new RotatorError(
      `run ${run.runId}: its journaled stores no longer resolve to the stores it wrote (then: ${journaledIdentities.join(", ")}; now: ${nowIdentities.join(", ")})`,
      {
        exitCode: ExitCode.badInput,
        hint: "a path or address changed meaning since the run started (a symlink, a DNS name): put it back, then resume",
      },
    );
  }
  await offerJournaledAdmin(bound, facts);
  return { context: bound, differences, dropped, droppedNow, close: () => closeStores(bound) };
}

/**
 * A run started with `--admin-from-env NAME` goes on with that token as the stand-in admin when NAME still holds
 * one Twilio takes (quietly not otherwise: the run's new token takes over once a store holds it).
 */
async function offerJournaledAdmin(context: EngineContext, facts: JournaledFacts): Promise<void> {
  const name = facts.adminFallbackEnv;
  const token = name === undefined ? undefined : context.env[name];
  if (name === undefined || token === undefined || token === "") return;
  registerSecret(token);
  const credential = accountTokenCredential(context.issuer.kind, context.loaded.config.twilio.accountSid, token);
  if (credential !== undefined && (await context.issuer.authenticatesNow(credential).catch(() => false))) {
    context.issuer.adoptNew(credential, `the token in env ${name} (--admin-from-env of the run, checked with Twilio)`);
  }
}

async function closeStores(context: EngineContext): Promise<void> {
  await Promise.allSettled(context.stores.map((store) => store.close?.()));
}

/** A run journaled without its facts: the invoked config stands in for them (its stores checked by name). */
function bindLegacyRun(
  context: EngineContext,
  run: RunSummary,
  droppedBefore: string[],
  dropNow: readonly string[],
): BoundRun {
  const then = (run.started?.stores ?? []).map((s) => `${s.name}:${s.type}`).join(", ");
  const now = context.stores.map((s) => `${s.name}:${s.type}`).join(", ");
  if (then !== now) {
    throw new RotatorError(`the config's stores changed since the run started (then: ${then}; now: ${now})`, {
      exitCode: ExitCode.badInput,
      hint: "resume with the config the run started with",
    });
  }
  checkDrops(
    run,
    context.consumers.map((c) => c.name),
    dropNow,
  );
  const dropped = [...new Set([...droppedBefore, ...dropNow])];
  const differences = [
    `run ${run.runId} was started by an older rotator, which did not journal its consumers and settings: it goes on with this config's (${context.consumers.length === 0 ? "no consumers" : `consumers ${context.consumers.map((c) => c.name).join(", ")}`})`,
  ];
  const consumers = context.consumers.filter((probe) => !dropped.includes(probe.name));
  const bound = consumers.length === context.consumers.length ? context : { ...context, consumers };
  return {
    context: bound,
    differences,
    dropped,
    droppedNow: dropNow.filter((name) => !droppedBefore.includes(name)),
    close: async () => {},
  };
}

function checkDrops(run: RunSummary, names: string[], dropNow: readonly string[]): void {
  const unknown = dropNow.filter((name) => !names.includes(name));
  if (unknown.length === 0) return;
  throw new RotatorError(
    `--drop-consumer ${unknown.join(", ")}: run ${run.runId} waits for no consumer of that name (its consumers: ${names.length === 0 ? "none" : names.join(", ")})`,
    { exitCode: ExitCode.badInput, hint: "name a consumer the run started with; nothing was changed" },
  );
}

function parseJournaledConsumer(run: RunSummary, entry: Record<string, unknown>, index: number): ConsumerEntry {
  const parsed = consumerEntrySchema.safeParse(entry);
  if (parsed.success) return parsed.data;
  throw new RotatorError(`run ${run.runId}: its journal's consumer ${index + 1} cannot be read back`, {
    exitCode: ExitCode.badInput,
    hint: "the journal was edited or damaged; `rotator rollback` or `resume` with an intact journal",
  });
}

/** The config the run started with, rebuilt from its facts, with the invoked config's timeouts and outputs. */
function runConfig(
  context: EngineContext,
  run: RunSummary,
  facts: JournaledFacts,
  entries: Array<Record<string, unknown>>,
  differences: string[],
): LoadedConfig {
  const { loaded } = context;
  const file = run.started?.configFile ?? loaded.file;
  const { baseUrl: _invokedBaseUrl, ...twilio } = loaded.config.twilio;
  const raw = {
    version: 1,
    twilio: {
      ...twilio,
      accountSid: run.started?.accountSid ?? loaded.config.twilio.accountSid,
      admin: facts.admin,
      ...(facts.baseUrl === undefined ? {} : { baseUrl: facts.baseUrl }),
    },
    credential: facts.credential,
    stores: entries,
    consumers: [],
    // How long to wait and whom to tell are this command's choice, not facts of the run.
    verify: loaded.config.verify,
    notify: loaded.config.notify,
    state: loaded.config.state,
  };
  let config: LoadedConfig["config"];
  try {
    config = validateConfig(raw, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new RotatorError(
      `run ${run.runId}: its journaled facts are not a valid config: ${error.problems.join("; ")}`,
      {
        exitCode: ExitCode.badInput,
        hint: "the journal was edited or damaged, or journaled by a newer rotator",
      },
    );
  }
  const sameAdmin = isDeepStrictEqual(facts.admin, asRecord(loaded.config.twilio.admin));
  if (sameAdmin) return { config, file, baseDir: facts.baseDir, admin: loaded.admin };
  try {
    return { config, file, baseDir: facts.baseDir, admin: resolveAdmin(config, file, context.env) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The admin is a means, not a fact the run's safety rests on: any working admin of the account will do.
    differences.push(
      `the run's admin credential (${describeAdmin(facts.admin)}) cannot be had here (${error.problems.join("; ")}): this config's (${describeAdmin(asRecord(loaded.config.twilio.admin))}) is used`,
    );
    const withInvokedAdmin = validateConfig(
      { ...raw, twilio: { ...raw.twilio, admin: loaded.config.twilio.admin } },
      file,
    );
    return { config: withInvokedAdmin, file, baseDir: facts.baseDir, admin: loaded.admin };
  }
}

/** `env TWILIO_AUTH_TOKEN`, `store vault (fromStore)`, `Main key SK…`: an admin source in words, never a secret. */
export function describeAdmin(admin: Record<string, unknown>): string {
  const token = admin.authToken as Record<string, unknown> | undefined;
  if (token !== undefined && typeof token.env === "string") return `Auth Token from env ${token.env}`;
  if (token !== undefined && typeof token.fromStore === "string") return `Auth Token from store ${token.fromStore}`;
  const secret = admin.apiKeySecret as Record<string, unknown> | undefined;
  if (typeof admin.apiKeySid === "string") return `Main key ${admin.apiKeySid} (secret from env ${secret?.env})`;
  return "an admin credential of unknown shape";
}

function describeConsumer(entry: ConsumerEntry): string {
  switch (entry.type) {
    case "http":
      return `http ${entry.url}`;
    case "command":
      return `command ${entry.command.join(" ")}`;
    case "kubernetes":
      return `kubernetes ${entry.namespace}/${entry.workload ?? entry.selector ?? "pods"}`;
  }
}

/** Which top-level fields of two entries differ (names only: values are said elsewhere, or are the user's). */
function changedFields(then: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(then), ...Object.keys(now)])];
  return keys.filter((key) => !isDeepStrictEqual(then[key], now[key])).sort();
}

/** Every way the invoked config differs from the run's facts, in words an operator acts on. */
function describeDifferences(
  context: EngineContext,
  run: RunSummary,
  runConsumers: ConsumerEntry[],
  dropped: readonly string[],
  entries: Array<Record<string, unknown>>,
  facts: JournaledFacts,
): string[] {
  const { loaded } = context;
  const out: string[] = [];
  const started = run.started;
  if (started?.configFile !== undefined && started.configFile !== loaded.file) {
    out.push(
      `the run was started with config ${started.configFile}; this command read ${loaded.file}: the run's facts (stores, consumers, credential, admin) are used`,
    );
  } else if (facts.baseDir !== loaded.baseDir) {
    out.push(`the config file moved since the run started (from ${facts.baseDir}): relative paths are the run's`);
  }
  const nowConsumers = loaded.config.consumers.filter((consumer) => !dropped.includes(consumer.name));
  for (const consumer of runConsumers.filter((c) => !dropped.includes(c.name))) {
    const now = nowConsumers.find((c) => c.name === consumer.name);
    if (now === undefined) {
      out.push(
        `consumer ${consumer.name} (${describeConsumer(consumer)}) is not in this config, but the run started with it: it is still waited for (\`rotator resume --drop-consumer ${consumer.name}\` stops waiting for it, on your word)`,
      );
    } else if (!isDeepStrictEqual(asRecord(now), asRecord(consumer))) {
      out.push(
        `consumer ${consumer.name} differs from the run's (${changedFields(asRecord(consumer), asRecord(now)).join(", ")}): it is the same consumer, configured anew (moved, say), and this config's probe is used`,
      );
    }
  }
  for (const consumer of nowConsumers) {
    if (!runConsumers.some((c) => c.name === consumer.name)) {
      out.push(
        `consumer ${consumer.name} (${describeConsumer(consumer)}) is in this config but not in the run's: it is waited for too`,
      );
    }
  }
  const journaledStores = started?.stores ?? [];
  journaledStores.forEach((store, index) => {
    const nowIndex = context.refs.findIndex((ref) => ref.identity === store.identity);
    const now = context.refs[nowIndex];
    if (now === undefined) return;
    if (now.name !== store.name) {
      out.push(
        `store ${store.name} of the run is named ${now.name} in this config (${store.location}): the run's name is used`,
      );
    }
    const entry = entries[index] ?? {};
    const nowEntry = asRecord(loaded.config.stores[nowIndex]);
    const fields = changedFields(entry, nowEntry).filter((field) => field !== "name");
    if (fields.length > 0) {
      out.push(`store ${store.name}'s entry differs from the run's (${fields.join(", ")}): the run's is used`);
    }
  });
  const order = (names: string[]) => names.join(", ");
  const runOrder = journaledStores.map((s) => s.identity);
  const nowOrder = context.refs.map((r) => r.identity);
  if (runOrder.length === nowOrder.length && !isDeepStrictEqual(runOrder, nowOrder)) {
    out.push(
      `this config lists the stores in another order (the run's: ${order(journaledStores.map((s) => s.name))}): the run's order is kept (written in it, rolled back in reverse)`,
    );
  }
  const nowAdmin = asRecord(loaded.config.twilio.admin);
  if (!isDeepStrictEqual(facts.admin, nowAdmin)) {
    out.push(
      `the admin credential differs: the run's is ${describeAdmin(facts.admin)}, this config's ${describeAdmin(nowAdmin)}; the run's is used`,
    );
  }
  if ((facts.baseUrl ?? undefined) !== loaded.config.twilio.baseUrl) {
    out.push(
      `twilio.baseUrl differs: the run's is ${facts.baseUrl ?? "Twilio"}, this config's ${loaded.config.twilio.baseUrl ?? "Twilio"}; the run's is used`,
    );
  }
  const credentialFields = changedFields(facts.credential, asRecord(loaded.config.credential));
  if (credentialFields.length > 0) {
    out.push(`credential settings differ from the run's (${credentialFields.join(", ")}): the run's are used`);
  }
  return out;
}
