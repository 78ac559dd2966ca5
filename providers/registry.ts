/**
 * Every store provider rotator knows, by type. To add one: import its definition and add it to `providers`
 * under its type. The config schema, the type union and `createStoreProvider` follow from this map, and
 * registry.test.ts checks the map against the folders under providers/.
 */
import * as z from "zod";
import { awsSecretsManager } from "./aws-secrets-manager/index.js";
import { azureKeyVault } from "./azure-key-vault/index.js";
import type { StoreProvider } from "./contract.js";
import type { ProviderDefinition, ProviderEnvironment } from "./definition.js";
import { dotenvFile } from "./dotenv-file/index.js";
import { isMissingPackage, MissingPackageError } from "./errors.js";
import { kubernetesSecret } from "./kubernetes-secret/index.js";
import { vaultKv2 } from "./vault-kv2/index.js";

/** Keyed by type; `registry()` makes the compiler check each key against its config schema's `type`. */
export const providers = registry({
  "aws-secrets-manager": awsSecretsManager,
  "azure-key-vault": azureKeyVault,
  "dotenv-file": dotenvFile,
  "kubernetes-secret": kubernetesSecret,
  "vault-kv2": vaultKv2,
});

/** The closed union of provider types, `stores[].type` in config. */
export type ProviderType = keyof typeof providers;

const definitions: readonly (typeof providers)[ProviderType][] = Object.values(providers);

/** A store entry in config: one of the providers' schemas, chosen by `type`. */
export const storeEntrySchema = discriminatedByType(definitions.map((definition) => definition.configSchema));

export type StoreEntry = z.infer<typeof storeEntrySchema>;

/**
 * The provider serving a store entry from config (its code is loaded on first use). A MissingPackageError when
 * the store type's SDK is not installed.
 */
export async function createStoreProvider(entry: StoreEntry, environment: ProviderEnvironment): Promise<StoreProvider> {
  const definition: ProviderDefinition = providers[entry.type];
  const create = await loadOnce(definition).catch((error: unknown) => {
    const missing = definition.packages.find((name) => isMissingPackage(error, name));
    throw missing === undefined ? error : new MissingPackageError(entry.name, entry.type, missing, { cause: error });
  });
  // Parse again with the provider's own schema, so each provider is only ever handed the config it defines.
  return create(definition.configSchema.parse(entry), environment);
}

/**
 * How rotator 0.1 described a store, where its provider's definition says that differs from describe()
 * (ProviderDefinition.legacyDescription); otherwise undefined.
 */
export function legacyStoreDescription(entry: StoreEntry): string | undefined {
  const definition: ProviderDefinition = providers[entry.type];
  return definition.legacyDescription?.(entry);
}

const loads = new Map<ProviderDefinition, ReturnType<ProviderDefinition["load"]>>();

/**
 * Each provider's code is loaded once per process, and a load that failed fails the same way every time: a
 * bundle's CommonJS module that threw while loading (its SDK missing) would otherwise answer a second load
 * with empty exports.
 */
function loadOnce(definition: ProviderDefinition): ReturnType<ProviderDefinition["load"]> {
  let load = loads.get(definition);
  if (load === undefined) {
    load = definition.load();
    loads.set(definition, load);
  }
  return load;
}

/**
 * The map as given, if every entry's config schema has its key as `type` literal: a definition can never be
 * filed under another provider's name.
 */
function registry<const Map extends { readonly [Type in keyof Map]: ProviderDefinition<z.ZodType<{ type: Type }>> }>(
  map: Map,
): Map {
  return map;
}

function discriminatedByType<Schema extends z.core.$ZodTypeDiscriminable>(schemas: readonly Schema[]) {
  const [first, ...rest] = schemas;
  if (first === undefined) throw new Error("no store providers registered");
  return z.discriminatedUnion("type", [first, ...rest]);
}
