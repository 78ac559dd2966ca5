/**
 * What each provider folder exports: its config schema and a factory. The registry (./registry.ts) maps
 * every provider type to its definition; the config schema is built from these, so a store entry in
 * config and the provider that serves it can never disagree.
 */
import type * as z from "zod";
import type { CredentialLayout, StoreProvider } from "./contract.js";

export interface ProviderEnvironment {
  /** The credential type the run rotates: the fields a provider writes and reads (./fields.ts), its id. */
  credential: CredentialLayout;
  /** Directory of the config file: relative paths in a store entry are resolved against it. */
  baseDir: string;
  /** Environment to resolve `{ env: NAME }` references from (process.env in production, a map in tests). */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Every store entry's schema must be a strict Zod object with at least `name` and a literal `type`;
 * `storeEntryBase` in ./schema-parts.ts provides them and the shared optional fields.
 */
export interface ProviderDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly configSchema: Schema;
  /** One-line summary shown by `rotator doctor` and in the JSON Schema's description. */
  readonly summary: string;
  /**
   * The npm packages `load()` needs (the store's SDK): optional peer dependencies of rotator, installed by the
   * app or host that uses this store type. A missing one is named in a MissingPackageError.
   */
  readonly packages: readonly string[];
  /**
   * The provider's factory. Loaded on first use (a dynamic import), because providers bring SDKs that take
   * a noticeable part of a second to load; the config schema above is all that loading a config needs.
   */
  load(): Promise<ProviderFactory<z.infer<Schema>>>;
  /**
   * How rotator 0.1 described a store of this type, for a type whose description has changed since: only so
   * that a run journaled by 0.1 is still recognised as this config's (src/engine/context.ts). Without it, the
   * provider's describe() is the description.
   */
  legacyDescription?(config: z.infer<Schema>): string;
}

export type ProviderFactory<Config> = (config: Config, environment: ProviderEnvironment) => StoreProvider;

export function defineProvider<Schema extends z.ZodType>(
  definition: ProviderDefinition<Schema>,
): ProviderDefinition<Schema> {
  return definition;
}
