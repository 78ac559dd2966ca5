import { defineProvider } from "../definition.js";
import { vaultKv2ConfigSchema } from "./schema.js";

export const vaultKv2 = defineProvider({
  type: "vault-kv2",
  configSchema: vaultKv2ConfigSchema,
  summary:
    "A secret in a HashiCorp Vault or OpenBao KV v2 mount, written check-and-set; rollback writes the previous version back.",
  packages: ["node-vault"],
  // The provider (and its SDK) loads only when a config names this type: `rotator --help` and a
  // dotenv-only rotation never pay for SDKs they do not use.
  load: async () => {
    const { VaultKv2Provider } = await import("./provider.js");
    return (config, environment) => new VaultKv2Provider(config, environment);
  },
});
