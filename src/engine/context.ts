/**
 * Everything a command needs, built once from a loaded config: the issuer, one provider per store (in
 * config order), the state directory and the reporter. Tests build the same thing with other parts.
 */
import { createHash } from "node:crypto";
import type { StoredCredential, StoreProvider } from "../../providers/contract.js";
import { createStoreProvider, legacyStoreDescription } from "../../providers/registry.js";
import type { Environment, LoadedConfig } from "../config/load.js";
import type { StoreEntry } from "../config/schema.js";
import { type ConsumerProbe, createProbe } from "../consumer-probes/index.js";
import type { Issuer } from "../credentials/issuer.js";
import { createIssuer, credentialTypeOf, definitionOf } from "../credentials/registry.js";
import { ConfigError, errorMessage } from "../errors.js";
import type { RequestThrottle } from "../twilio/client.js";
import type { AdminCredentialShape } from "../twilio/diagnose.js";
import { registerSecret } from "../util/mask.js";
import { missingPackageAsBadInput } from "../util/optional-packages.js";
import { storeTimeoutMs } from "./deadlines.js";
import { pausepoint } from "./failpoint.js";
import { fencedStore } from "./fence.js";
import type { Interruption } from "./interrupt.js";
import type { RunSummary } from "./journal.js";
import type { StoreRef } from "./lock.js";
import type { Reporter } from "./reporter.js";
import type { StateBackend } from "./state/backend.js";
import { LocalStateBackend } from "./state/local.js";

export interface EngineContext {
  loaded: LoadedConfig;
  issuer: Issuer;
  /** In config order: written in this order, rolled back in reverse. */
  stores: StoreProvider[];
  /** Each store's name and identity, in config order (what locks, claims and cross-run checks use). */
  refs: StoreRef[];
  /** Which credential this config rotates: a run belongs to the config with its key (see credentialKeyOf). */
  credentialKey: string;
  /**
   * Keys this config had under earlier rotator versions, whose store identities were spelt differently: an
   * unfinished run journaled by an older rotator still belongs to this config.
   */
  legacyCredentialKeys: string[];
  /** App instances that must use the new key before the old one is revoked. */
  consumers: ConsumerProbe[];
  stateDir: string;
  /**
   * Where journals and locks live (config `state:`); absent in contexts tests assemble by hand, which use the
   * local state directory `stateDir` (engine/state/index.ts stateOf).
   */
  state?: StateBackend;
  reporter: Reporter;
  env: Environment;
  /** Set by a signal handler: the engine stops between steps (see interrupt.ts). */
  interruption?: Interruption;
  /** Times the issuer went on with another admin credential (the configured one was rotated away). */
  adminSwitches: AdminSwitch[];
}

export interface AdminSwitch {
  from: string;
  to: string;
}

/**
 * Build the parts from a loaded config and learn what each store is (its identity: see
 * providers/identity.ts). One physical store listed twice under two names is bad input: the second write
 * would see the first as a concurrent change, and its rollback would undo the other's.
 */
export async function buildContext(
  loaded: LoadedConfig,
  options: {
    stateDir: string;
    state?: StateBackend;
    reporter: Reporter;
    env?: Environment;
    interruption?: Interruption;
    /** Paces Twilio requests with other contexts' (a fleet's accounts). */
    throttle?: RequestThrottle;
    /** The consumers, when not the config's own (a resumed run's: engine/facts.ts). */
    consumers?: ConsumerProbe[];
  },
): Promise<EngineContext> {
  const { config } = loaded;
  const env = options.env ?? process.env;
  // Every store call bounded by its deadline and every change fenced by the locks this state holds (fence.ts).
  const state = options.state ?? new LocalStateBackend(options.stateDir);
  const stores = await Promise.all(
    config.stores.map(async (entry, index) =>
      fencedStore(
        await createStoreProvider(entry, {
          credential: credentialTypeOf(config.credential.type),
          baseDir: loaded.baseDir,
          env,
        }).catch(missingPackageAsBadInput),
        {
          timeoutMs: storeTimeoutMs(entry, config.state),
          setting: `stores[${index}].timeoutSeconds`,
          fence: () => state.fence(),
          pause: (point) => pausepoint(point, env),
        },
      ),
    ),
  );
  const closeStores = () => Promise.allSettled(stores.map((store) => store.close?.()));
  const adminSwitches: AdminSwitch[] = [];
  let issuer: Issuer;
  let refs: StoreRef[];
  try {
    const admin = loaded.admin ?? (await adminFromStore(loaded, stores));
    issuer = await createIssuer(config.credential, {
      admin,
      baseUrl: config.twilio.baseUrl,
      propagationTimeoutMs: config.verify.newKeyTimeoutSeconds * 1000,
      requestTimeoutMs: config.twilio.timeoutSeconds * 1000,
      revokeConfirmTimeoutMs: config.verify.revokeConfirmSeconds * 1000,
      ...(options.throttle === undefined ? {} : { throttle: options.throttle }),
      onRetry: (what, error, attempt) =>
        options.reporter.info(`retrying ${what} (attempt ${attempt} failed: ${error.message})`),
      onAdminSwitch: (from, to) => {
        adminSwitches.push({ from, to });
        // Whether the operator must act is said once the switch is journaled (journalAdminSwitches): a token
        // read from a store the run rewrites is expected to die with the run's promote.
        const line = `admin credential: ${from} no longer works; going on with ${to}`;
        if (admin.passwordSource.startsWith("store ")) options.reporter.info(line);
        else options.reporter.warn(line);
      },
    });
    refs = await resolveStoreRefs(loaded, stores, state);
  } catch (error) {
    await closeStores();
    throw error;
  }
  const consumers =
    options.consumers ?? config.consumers.map((entry) => createProbe(entry, { baseDir: loaded.baseDir, env }));
  return {
    loaded,
    issuer,
    stores,
    refs,
    credentialKey: credentialKeyOf(config, refs),
    legacyCredentialKeys: [credentialKeyOf(config, refs, "legacy")],
    consumers,
    stateDir: options.stateDir,
    state,
    reporter: options.reporter,
    env,
    adminSwitches,
    ...(options.interruption === undefined ? {} : { interruption: options.interruption }),
  };
}

/**
 * `twilio.admin: { authToken: { fromStore: NAME } }`: the token the named store holds now. After a
 * rotation it holds the new one, so the next (scheduled) run needs no one to update an environment.
 */
async function adminFromStore(loaded: LoadedConfig, stores: StoreProvider[]): Promise<AdminCredentialShape> {
  const admin = loaded.config.twilio.admin;
  const name = "authToken" in admin && "fromStore" in admin.authToken ? admin.authToken.fromStore : "";
  const store = stores.find((candidate) => candidate.name === name);
  const path = "twilio.admin.authToken.fromStore";
  if (store === undefined) throw new ConfigError(loaded.file, [`${path}: no store is named "${name}"`]);
  let held: StoredCredential | undefined;
  try {
    held = (await store.read()).credential;
  } catch (error) {
    throw new ConfigError(
      loaded.file,
      [`${path}: cannot read the admin token from store "${name}": ${errorMessage(error)}`],
      "make the store readable, or give the admin token as { env: NAME } for this run",
    );
  }
  const definition = held === undefined ? undefined : definitionOf(held);
  if (held === undefined || !definition?.accountToken) {
    throw new ConfigError(
      loaded.file,
      [`${path}: store "${name}" holds no auth token to use as the admin credential`],
      "put the account's current Auth Token in it, or give it as { env: NAME }",
    );
  }
  const { password } = definition.twilioLogin(held);
  registerSecret(password);
  return {
    accountSid: loaded.config.twilio.accountSid,
    username: loaded.config.twilio.accountSid,
    password,
    passwordSource: `store ${name}`,
  };
}

async function resolveStoreRefs(
  loaded: LoadedConfig,
  stores: StoreProvider[],
  state: StateBackend,
): Promise<StoreRef[]> {
  const entries = loaded.config.stores;
  const journaled = journaledIdentities(state);
  const refs = await Promise.all(
    stores.map(async (store, index): Promise<StoreRef> => {
      const identity = await store.identity();
      return {
        name: store.name,
        identity: (identity.unresolved === true ? await journaled(store) : undefined) ?? identity.key,
        display: identity.display,
        legacyIdentity: legacyStoreIdentity(store, entries[index]),
        ...(identity.claimFile === undefined ? {} : { claimFile: identity.claimFile }),
      };
    }),
  );
  const seen = new Map<string, number>();
  const problems: string[] = [];
  refs.forEach((ref, index) => {
    const first = seen.get(ref.identity);
    if (first === undefined) seen.set(ref.identity, index);
    else
      problems.push(
        `stores[${index}] ("${ref.name}") is the same store as stores[${first}] ("${refs[first]?.name}"): ${ref.display}; list each store once`,
      );
  });
  if (problems.length > 0) throw new ConfigError(loaded.file, problems, "remove the duplicate store entry");
  return refs;
}

/**
 * A store that did not answer (or refused the lookup) when asked what it is: the identity the newest run that
 * journaled this store, as this config describes it, recorded then. Without it, an unreachable store would be
 * known by another key than its runs' and locks', and this config would no longer find its own runs (`status`
 * showing none, `resume` nothing to do) exactly while a store is down. The journal is read once, when needed.
 */
function journaledIdentities(state: StateBackend): (store: StoreProvider) => Promise<string | undefined> {
  let runs: Promise<RunSummary[]> | undefined;
  return async (store) => {
    runs ??= state.listRuns().catch(() => []);
    for (const run of [...(await runs)].reverse()) {
      const entry = run.started?.stores.find((s) => s.type === store.type && s.location === store.describe());
      if (entry?.identity !== undefined) return entry.identity;
    }
    return undefined;
  };
}

/**
 * How rotator 0.1 named a store (`<type>:<describe()>`, with a description its provider's definition may give
 * for 0.1: AWS's region made explicit): kept only so that a run journaled by it is still recognised as this
 * config's, and its stores as these.
 */
function legacyStoreIdentity(provider: Pick<StoreProvider, "type" | "describe">, entry?: StoreEntry): string {
  const legacy = entry?.type === provider.type ? legacyStoreDescription(entry) : undefined;
  return `${provider.type}:${legacy ?? provider.describe()}`;
}

/**
 * Which credential a config rotates, as a file-name-safe key: the account, the credential type, and the
 * stores it lives in. A run belongs to the config with its key (resume and rollback find their run by it);
 * locks and the unfinished-run check of rotate go by store, so configs sharing only some stores exclude
 * each other too.
 */
function credentialKeyOf(config: LoadedConfig["config"], refs: StoreRef[], spelling?: "legacy"): string {
  const identity = [
    config.twilio.accountSid,
    config.credential.type,
    ...refs.map((ref) => (spelling === "legacy" ? ref.legacyIdentity : ref.identity)).sort(),
  ].join("\n");
  const digest = createHash("sha256").update(identity).digest("hex").slice(0, 12);
  return `${config.twilio.accountSid.slice(-6)}-${config.credential.type}-${digest}`;
}

/** Whether a journaled run belongs to this config (by its credential key, current or legacy). */
export function ownsRun(
  context: Pick<EngineContext, "credentialKey" | "legacyCredentialKeys">,
  key: string | undefined,
): boolean {
  return key !== undefined && (key === context.credentialKey || context.legacyCredentialKeys.includes(key));
}

export async function closeContext(context: EngineContext): Promise<void> {
  await Promise.allSettled(context.stores.map((store) => store.close?.()));
}
