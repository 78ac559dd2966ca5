/**
 * Configs known to a state backend, by the stores they name. Journals only know a config once it has run; a
 * config that lost the race for a shared store's lock (refused before it journaled anything) would stay
 * unknown, and the winner would revoke the key its other stores still hold. So every command that may change
 * a store (rotate, sync, resume, rollback) records its config here *before* it takes the locks, and the
 * check "do stores outside this config hold the credential about to be revoked" asks the configs sharing a
 * store with this one what their other stores hold, reading them through their recorded entries.
 *
 * A record is the config's facts (engine/facts.ts: entries and references, never a secret), kept per config
 * file, host and account; an index by store identity (and by credential key) finds the configs naming a store
 * without reading them all (a fleet records one per account).
 */

import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { StoreProvider } from "../../providers/contract.js";
import { createStoreProvider, storeEntrySchema } from "../../providers/registry.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { credentialId } from "../credentials/stored.js";
import { errorMessage } from "../errors.js";
import type { EngineContext } from "./context.js";
import { ownsRun } from "./context.js";
import { stateOf } from "./state/index.js";

/** What a state backend keeps of a config: enough to find its stores and read them, nothing secret. */
export interface KnownConfig {
  /** Stable per config file, host and account (knownConfigId). */
  id: string;
  configFile: string;
  host: string;
  credentialKey: string;
  accountSid: string;
  credentialType: string;
  /** The config file's directory, against which relative paths in entries are resolved. */
  baseDir: string;
  stores: Array<{ name: string; type: string; location: string; identity: string; entry: Record<string, unknown> }>;
  /** When a command of this config last recorded it (ISO). */
  seenAt: string;
}

type KnownContext = Pick<
  EngineContext,
  "loaded" | "stores" | "refs" | "stateDir" | "state" | "env" | "credentialKey" | "legacyCredentialKeys"
>;

export function knownConfigId(host: string, configFile: string, accountSid: string): string {
  return createHash("sha256").update(`${host}\0${configFile}\0${accountSid}`).digest("hex").slice(0, 16);
}

/** What a recorded config is found by: each store it names, and its credential key. */
export type ConfigIndex = { store: string } | { credentialKey: string };

/** An index entry as a file-name-safe key (identities hold paths and URLs). */
export function indexKey(index: ConfigIndex): string {
  const text = "store" in index ? `store:${index.store}` : `key:${index.credentialKey}`;
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Every index entry a config's record is found by. */
export function indexesOf(config: KnownConfig): ConfigIndex[] {
  return [...config.stores.map((store) => ({ store: store.identity })), { credentialKey: config.credentialKey }];
}

/** This context's config, as a state backend records it. */
export function knownConfigOf(context: KnownContext): KnownConfig {
  const { config, file, baseDir } = context.loaded;
  const host = hostname();
  return {
    id: knownConfigId(host, file, config.twilio.accountSid),
    configFile: file,
    host,
    credentialKey: context.credentialKey,
    accountSid: config.twilio.accountSid,
    credentialType: config.credential.type,
    baseDir,
    stores: context.stores.map((store, index) => ({
      name: store.name,
      type: store.type,
      location: store.describe(),
      identity: context.refs[index]?.identity ?? `${store.type}:${store.describe()}`,
      entry: JSON.parse(JSON.stringify(config.stores[index] ?? {})) as Record<string, unknown>,
    })),
    seenAt: new Date().toISOString(),
  };
}

/** Record this config in its state backend (before a command that may change stores takes their locks). */
export async function noteThisConfig(context: KnownContext): Promise<void> {
  await stateOf(context).noteConfig(knownConfigOf(context));
}

/** A store outside this config that a config sharing one of its stores keeps, and what it holds now. */
export interface KnownHolder {
  config: KnownConfig;
  stores: Array<{ name: string; location: string; identity: string; unreadable?: string }>;
}

/**
 * The configs (other than this one) that name a store of this config, for the same account and credential
 * type, as they were last recorded and still naming it.
 */
export async function configsSharingStores(context: KnownContext): Promise<KnownConfig[]> {
  const state = stateOf(context);
  const own = knownConfigId(hostname(), context.loaded.file, context.loaded.config.twilio.accountSid);
  const found = new Map<string, KnownConfig>();
  for (const ref of context.refs) {
    for (const config of await state.knownConfigs({ store: ref.identity })) {
      if (config.id === own || ownsRun(context, config.credentialKey)) continue;
      if (config.accountSid !== context.loaded.config.twilio.accountSid) continue;
      if (config.credentialType !== context.loaded.config.credential.type) continue;
      // An index entry outlives a config that stopped naming the store: the record says what it names now.
      if (!config.stores.some((store) => store.identity === ref.identity)) continue;
      found.set(config.id, config);
    }
  }
  return [...found.values()];
}

/**
 * Stores of configs sharing a store with this one, outside this config, that hold `id` now, read through
 * their recorded entries. One that cannot be read is counted as holding it: a config sharing a store holds
 * that store's credential in its others too, unless it can be seen not to.
 */
export async function knownHoldersOf(context: KnownContext, id: string): Promise<KnownHolder[]> {
  const holders: KnownHolder[] = [];
  for (const config of await configsSharingStores(context)) {
    const stores = await storesOutsideHolding(context, config, id);
    if (stores.length > 0) holders.push({ config, stores });
  }
  return holders;
}

/**
 * The stores of a config (recorded, or a run's journaled facts) outside this context's that hold `id` now, read
 * through their entries; one that cannot be read counts as holding it.
 */
export async function storesOutsideHolding(
  context: Pick<KnownContext, "refs" | "loaded" | "env">,
  config: Pick<KnownConfig, "baseDir" | "stores">,
  id: string,
): Promise<KnownHolder["stores"]> {
  const ours = new Set(context.refs.flatMap((ref) => [ref.identity, ref.legacyIdentity ?? ref.identity]));
  const stores: KnownHolder["stores"] = [];
  for (const store of config.stores) {
    if (ours.has(store.identity)) continue;
    const held = await heldBy(config, store.entry, context);
    if (held.id === id || held.unreadable !== undefined) {
      stores.push({
        name: store.name,
        location: store.location,
        identity: store.identity,
        ...(held.unreadable === undefined ? {} : { unreadable: held.unreadable }),
      });
    }
  }
  return stores;
}

/** What a recorded (or journaled) store entry holds now: its credential's id, or why it could not be read. */
export async function heldBy(
  config: Pick<KnownConfig, "baseDir">,
  entry: Record<string, unknown>,
  context: Pick<KnownContext, "loaded" | "env">,
): Promise<{ id?: string; unreadable?: string }> {
  const parsed = storeEntrySchema.safeParse(entry);
  if (!parsed.success) return { unreadable: "its recorded entry is not one this rotator reads" };
  let provider: StoreProvider | undefined;
  try {
    provider = await createStoreProvider(parsed.data, {
      credential: credentialTypeOf(context.loaded.config.credential.type),
      baseDir: config.baseDir,
      env: context.env,
    });
    const held = (await provider.read()).credential;
    return held === undefined ? {} : { id: credentialId(held) };
  } catch (error) {
    return { unreadable: errorMessage(error) };
  } finally {
    await provider?.close?.();
  }
}
