/**
 * The token credential rotator asks for Key Vault tokens: DefaultAzureCredential (environment, workload identity,
 * managed identity, Azure CLI, ...) or an application's client secret. Made at first use, so a variable that is
 * not set fails the first call with a StoreError naming it, not the construction of the provider.
 *
 * Instance discovery (MSAL asking login.microsoftonline.com whether an authority is a Microsoft one) is off for an
 * authority host of its own: a private or test authority is taken as given, and discovery could not reach it.
 */
import { ClientSecretCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { readEnvReference } from "../toolkit.js";
import type { AzureAuthConfig } from "./schema.js";

/** Microsoft's public and national-cloud authorities, which MSAL discovers by itself. */
const MICROSOFT_AUTHORITIES = new Set([
  "login.microsoftonline.com",
  "login.microsoft.com",
  "login.windows.net",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn",
  "login.microsoftonline.de",
]);

export interface CredentialContext {
  store: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Extra CA certificates (PEM) for the authority's TLS, for tests; production trusts Node's CAs. */
  ca?: string | undefined;
}

export function ownAuthority(host: string | undefined): boolean {
  return host !== undefined && URL.canParse(host) && !MICROSOFT_AUTHORITIES.has(new URL(host).hostname.toLowerCase());
}

export function createCredential(auth: AzureAuthConfig, context: CredentialContext): TokenCredential {
  const tls = context.ca === undefined ? {} : { tlsOptions: { ca: context.ca } };
  if (auth.method === "default") {
    // DefaultAzureCredential reads AZURE_* from process.env itself; AZURE_AUTHORITY_HOST names the authority.
    const discoveryOff = ownAuthority(context.env.AZURE_AUTHORITY_HOST);
    return new DefaultAzureCredential({ ...tls, ...(discoveryOff ? { disableInstanceDiscovery: true } : {}) });
  }
  const secret = readEnvReference(auth.clientSecret, "auth.clientSecret.env", context.store, context.env);
  const authorityHost = auth.authorityHost?.replace(/\/+$/, "");
  const discoveryOff = ownAuthority(authorityHost ?? context.env.AZURE_AUTHORITY_HOST);
  return new ClientSecretCredential(auth.tenantId, auth.clientId, secret, {
    ...tls,
    ...(authorityHost === undefined ? {} : { authorityHost }),
    ...(discoveryOff ? { disableInstanceDiscovery: true } : {}),
  });
}
