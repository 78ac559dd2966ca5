import { defineProvider } from "../definition.js";
import { azureKeyVaultConfigSchema } from "./schema.js";

export const azureKeyVault = defineProvider({
  type: "azure-key-vault",
  configSchema: azureKeyVaultConfigSchema,
  summary:
    "An Azure Key Vault secret holding the credential as JSON; each write sets a new version tagged with the run, " +
    "read back by its id; rollback sets the previous version's value again.",
  packages: ["@azure/identity", "@azure/keyvault-secrets"],
  // The provider (and the Azure SDKs) load only when a config names this type.
  load: async () => {
    const { AzureKeyVaultProvider } = await import("./provider.js");
    return (config, environment) => new AzureKeyVaultProvider(config, environment);
  },
});
