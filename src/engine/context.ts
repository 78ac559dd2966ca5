/**
 * Everything a command needs, built once from a loaded config: the issuer, one provider per store (in
 * config order), the state directory and the reporter. Tests build the same thing with other parts.
 */
import { createHash } from "node:crypto";
import type { StoreProvider } from "../../providers/contract.js";
import { createStoreProvider } from "../../providers/registry.js";
import type { Environment, LoadedConfig } from "../config/load.js";
import { type ConsumerProbe, createProbe } from "../consumers/index.js";
import { ApiKeyIssuer } from "../twilio/api-key-issuer.js";
import type { Issuer } from "../twilio/issuer.js";
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
 * Which credential a config rotates, as a file-name-safe key: the account, the credential type, and the
 * stores it lives in. Two configs naming the same stores share a lock; unrelated credentials do not.
 */
export function credentialKey(context: Pick<EngineContext, "loaded" | "stores">): string {
  const { config } = context.loaded;
  const identity = [
    config.twilio.accountSid,
    config.credential.type,
    ...context.stores.map((store) => `${store.type}:${store.describe()}`).sort(),
  ].join("\n");
  const digest = createHash("sha256").update(identity).digest("hex").slice(0, 12);
  return `${config.twilio.accountSid.slice(-6)}-${config.credential.type}-${digest}`;
}

export async function closeContext(context: EngineContext): Promise<void> {
  await Promise.allSettled(context.stores.map((store) => store.close?.()));
}
