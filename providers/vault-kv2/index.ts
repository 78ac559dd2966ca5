import { defineProvider } from "../definition.js";
import { VaultKv2Provider } from "./provider.js";
import { vaultKv2ConfigSchema } from "./schema.js";

export const vaultKv2 = defineProvider({
  type: "vault-kv2",
  configSchema: vaultKv2ConfigSchema,
  summary:
    "A secret in a HashiCorp Vault or OpenBao KV v2 mount, written check-and-set; rollback writes the previous version back.",
  create: (config, environment) => new VaultKv2Provider(config, environment),
});
