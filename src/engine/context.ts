/**
 * Everything a command needs, built once from a loaded config: the issuer, one provider per store (in
 * config order), the state directory and the reporter. Tests build the same thing with other parts.
 */
import { createHash } from "node:crypto";
import { regionOfArn } from "../../providers/aws-secrets-manager/schema.js";
import type { StoreProvider } from "../../providers/contract.js";
import { createStoreProvider } from "../../providers/registry.js";
import type { Environment, LoadedConfig } from "../config/load.js";
import type { StoreEntry } from "../config/schema.js";
import { type ConsumerProbe, createProbe } from "../consumers/index.js";
import { ApiKeyIssuer } from "../twilio/api-key-issuer.js";
import type { Issuer } from "../twilio/issuer.js";
import type { StoreRef } from "./lock.js";
import type { Reporter } from "./reporter.js";

export interface EngineContext {
  loaded: LoadedConfig;
  issuer: Issuer;
  /** In config order: written in this order, rolled back in reverse. */
  stores: StoreProvider[];
  /** App instances that must use the new key before the old one is revoked. */
  consumers: ConsumerProbe[];
  stateDir: string;
  reporter: Reporter;
  env: Environment;
}

export function buildContext(
  loaded: LoadedConfig,
  options: { stateDir: string; reporter: Reporter; env?: Environment },
): EngineContext {
  const { config } = loaded;
  const env = options.env ?? process.env;
  const issuer = new ApiKeyIssuer({
    admin: loaded.admin,
    baseUrl: config.twilio.baseUrl,
    keyType: config.credential.keyType,
    policy: config.credential.policy,
    friendlyNamePrefix: config.credential.friendlyNamePrefix,
    verifyPath: config.credential.verifyPath,
    propagationTimeoutMs: config.verify.newKeyTimeoutSeconds * 1000,
    revokeConfirmTimeoutMs: config.verify.revokeConfirmSeconds * 1000,
    onRetry: (what, error, attempt) =>
      options.reporter.info(`retrying ${what} (attempt ${attempt} failed: ${error.message})`),
  });
  const stores = config.stores.map((entry) =>
    createStoreProvider(entry, { credentialKind: config.credential.type, baseDir: loaded.baseDir, env }),
  );
  const consumers = config.consumers.map((entry) => createProbe(entry, { baseDir: loaded.baseDir, env }));
  return { loaded, issuer, stores, consumers, stateDir: options.stateDir, reporter: options.reporter, env };
}

/**
 * Which physical store a provider writes, the same whichever config names it (so two configs sharing a
 * store share its lock) and whatever the environment (so the same config gets the same identity at rotate
 * and at resume): `<type>:<where>`.
 *
 * For dotenv-file and vault-kv2 that is `describe()`, which comes from the config entry alone (the file's
 * path resolved against the config's directory; Vault's address, namespace, mount and path). For
 * aws-secrets-manager it is not: without a `region` in the config (or in an ARN), describe() names the
 * region from AWS_REGION. So its identity is built from the entry's own location fields (secretId, region,
 * endpoint), with the region an ARN carries made explicit. A secret whose region comes from the SDK's
 * default chain is "the default region" whatever that resolves to: two such configs may look overlapping
 * when they are not (the safe side), but a config naming the region and one relying on the default, or one
 * giving the secret's name and one its ARN, look like different stores: configs sharing an AWS secret
 * should name it the same way.
 */
export function storeIdentity(provider: Pick<StoreProvider, "type" | "describe">, entry?: StoreEntry): string {
  if (entry?.type === "aws-secrets-manager" && provider.type === "aws-secrets-manager") {
    const region = entry.region ?? regionOfArn(entry.secretId) ?? "the default region";
    const endpoint = entry.endpoint === undefined ? "" : `, endpoint ${entry.endpoint.replace(/\/+$/, "")}`;
    return `${entry.type}:AWS Secrets Manager secret ${entry.secretId} (${region}${endpoint})`;
  }
  return `${provider.type}:${provider.describe()}`;
}

/** Every store of this config, in config order, with its name and identity (what locks are taken on). */
export function storeRefs(context: Pick<EngineContext, "loaded" | "stores">): StoreRef[] {
  const entries = context.loaded.config.stores;
  return context.stores.map((store, index) => ({ name: store.name, identity: storeIdentity(store, entries[index]) }));
}

/**
 * Which credential a config rotates, as a file-name-safe key: the account, the credential type, and the
 * stores it lives in. A run belongs to the config with its key (resume and rollback find their run by it);
 * locks and the unfinished-run check of rotate go by store, so configs sharing only some stores exclude
 * each other too.
 */
export function credentialKey(context: Pick<EngineContext, "loaded" | "stores">): string {
  const { config } = context.loaded;
  const identity = [
    config.twilio.accountSid,
    config.credential.type,
    ...storeRefs(context)
      .map((store) => store.identity)
      .sort(),
  ].join("\n");
  const digest = createHash("sha256").update(identity).digest("hex").slice(0, 12);
  return `${config.twilio.accountSid.slice(-6)}-${config.credential.type}-${digest}`;
}

export async function closeContext(context: EngineContext): Promise<void> {
  await Promise.allSettled(context.stores.map((store) => store.close?.()));
}
