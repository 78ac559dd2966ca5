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

export const CREDENTIAL_TYPES = ["api-key", "auth-token"] as const;

export type StoreType = (typeof STORE_TYPES)[number];

export function isStoreType(value: string): value is StoreType {
  return (STORE_TYPES as readonly string[]).includes(value);
}
