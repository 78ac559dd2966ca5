/**
 * The store types `rotator init` and shell completion offer, without loading the providers (whose registry,
 * providers/registry.ts, is the home of the types: test/unit/init-templates.test.ts checks this list against it).
 */
export const STORE_TYPES = [
  "dotenv-file",
  "vault-kv2",
  "aws-secrets-manager",
  "azure-key-vault",
  "kubernetes-secret",
] as const;

/** The built-in credential types (src/credentials/registry.ts is their home: init-templates.test.ts checks). */
export const CREDENTIAL_TYPES = ["api-key", "auth-token"] as const;

/**
 * What `rotator init` writes when not told `--credential`: the first built-in type, which is the registry's
 * first (templates.ts reads it there, so that it need not load this list into a chunk of its own).
 */
export const DEFAULT_CREDENTIAL_TYPE = CREDENTIAL_TYPES[0];

export type StoreType = (typeof STORE_TYPES)[number];

export function isStoreType(value: string): value is StoreType {
  return (STORE_TYPES as readonly string[]).includes(value);
}
