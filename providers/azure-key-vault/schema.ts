import * as z from "zod";
import { envReference } from "../../src/config/schema-parts.js";
import { storeEntryBase } from "../schema-parts.js";
import { uniqueFieldNames } from "../toolkit.js";

/** Key Vault's own rule for secret names; the service compares them without regard to case. */
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const httpsOrigin = (what: string, example: string) =>
  z.url({ protocol: /^https$/, error: `must be an https:// URL, e.g. ${example}` }).refine((value) => {
    const url = new URL(value);
    return url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" && url.password === "";
  }, `must be just the ${what}'s origin (https://host[:port]), with no path, query, fragment or user name`);

const defaultAuth = z
  .strictObject({ method: z.literal("default") })
  .describe(
    "DefaultAzureCredential: environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or a " +
      "certificate), workload identity, managed identity, then the Azure CLI's login.",
  );

const clientSecretAuth = z
  .strictObject({
    method: z.literal("client-secret"),
    tenantId: z
      .string()
      .regex(
        /^[0-9A-Za-z.-]+$/,
        "must be the directory (tenant) id, a GUID, or its domain such as contoso.onmicrosoft.com",
      )
      .describe("The Microsoft Entra tenant (directory) id of the application."),
    clientId: z
      .string()
      .regex(GUID, "must be the application (client) id, a GUID such as 00000000-0000-0000-0000-000000000000")
      .describe("The application (client) id of the app registration or service principal."),
    clientSecret: envReference.describe("The environment variable holding the application's client secret."),
    authorityHost: httpsOrigin("authority", "https://login.microsoftonline.us")
      .optional()
      .describe(
        "The Microsoft Entra authority to get tokens from, if not https://login.microsoftonline.com (a national " +
          "cloud, a private authority). Instance discovery is off for it: the host is taken as given.",
      ),
  })
  .describe("An application's client secret (a service principal), from an environment variable.");

export const azureAuthSchema = z
  .discriminatedUnion("method", [defaultAuth, clientSecretAuth])
  .describe("How rotator authenticates to Key Vault. Secrets only by { env: NAME } reference.");

export type AzureAuthConfig = z.infer<typeof azureAuthSchema>;

export const azureKeyVaultConfigSchema = z
  .strictObject({
    ...storeEntryBase,
    type: z.literal("azure-key-vault"),
    vaultUrl: httpsOrigin("vault", "https://my-vault.vault.azure.net").describe(
      "The vault's URL, e.g. https://my-vault.vault.azure.net (its Vault URI in the portal).",
    ),
    secretName: z
      .string()
      .regex(SECRET_NAME, "must be 1 to 127 letters, digits and '-' (Key Vault's rule for secret names)")
      .describe(
        "The secret's name. It must exist and hold a JSON object (at least {}); rotator keeps every other field " +
          "of that object.",
      ),
    auth: azureAuthSchema,
    disableChallengeResourceVerification: z
      .boolean()
      .optional()
      .describe(
        "The Key Vault SDK's option of that name: accept an authentication challenge whose resource does not match " +
          "the vault's host, for a private endpoint under another domain or a test server. Default false.",
      ),
  })
  .superRefine((entry, context) => uniqueFieldNames(entry, "json", context))
  .describe(
    "An Azure Key Vault secret holding the credential as JSON. Each write sets a new version tagged with the run; " +
      "rollback sets the previous version's value again (Key Vault has no labels to move back).",
  );

export type AzureKeyVaultConfig = z.infer<typeof azureKeyVaultConfigSchema>;
