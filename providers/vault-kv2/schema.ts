import * as z from "zod";
import { envReferenceFor, httpUrl } from "../../src/config/schema-parts.js";
import { storeEntryBase } from "../schema-parts.js";
import { uniqueFieldNames } from "../toolkit.js";

export const KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";

// Paths go into request URLs as they are: no empty, "." or ".." segments, no "?", "#", "%" or spaces.
const SEGMENT = "[A-Za-z0-9_.@+=,~-]+";
const vaultPath = (what: string) =>
  z
    .string()
    .regex(
      new RegExp(`^(?!\\.{1,2}(?:/|$))(?!.*/\\.{1,2}(?:/|$))${SEGMENT}(?:/${SEGMENT})*$`),
      `${what}: use letters, digits and _ . @ + = , ~ - in segments separated by '/', ` +
        "with no leading or trailing '/' and no '.' or '..' segments",
    );

const tokenAuth = z
  .strictObject({
    method: z.literal("token"),
    token: envReferenceFor({ example: "VAULT_TOKEN", what: "the token" }).describe(
      "The environment variable holding the Vault token.",
    ),
  })
  .describe("Use a Vault token from an environment variable.");

const appRoleAuth = z
  .strictObject({
    method: z.literal("approle"),
    roleId: z
      .union([z.string().min(1), envReferenceFor({ example: "VAULT_ROLE_ID" })], {
        error: (issue) =>
          `${issue.input === undefined ? "missing: give" : "must be"} the role_id as text, or a reference such as { env: VAULT_ROLE_ID }`,
      })
      .describe("The AppRole's role_id (not a secret), or an environment variable holding it."),
    secretId: envReferenceFor({ example: "VAULT_SECRET_ID", what: "the secret_id" }).describe(
      "The environment variable holding the AppRole's secret_id.",
    ),
    mount: vaultPath("mount")
      .default("approle")
      .describe('Where the AppRole auth method is enabled (auth/<mount>); default "approle".'),
  })
  .describe("Log in with AppRole (auth/<mount>/login).");

const kubernetesAuth = z
  .strictObject({
    method: z.literal("kubernetes"),
    role: z.string().min(1).describe("The Vault role bound to this pod's service account."),
    tokenFile: z
      .string()
      .min(1)
      .default(KUBERNETES_TOKEN_FILE)
      .describe(
        "The service account token (JWT) file, read at every login; a relative path is resolved against the " +
          "config file's directory.",
      ),
    mount: vaultPath("mount")
      .default("kubernetes")
      .describe('Where the Kubernetes auth method is enabled (auth/<mount>); default "kubernetes".'),
  })
  .describe("Log in with the pod's Kubernetes service account token (auth/<mount>/login).");

export const vaultAuthSchema = z
  .discriminatedUnion("method", [tokenAuth, appRoleAuth, kubernetesAuth])
  .describe("How rotator authenticates to Vault. Secrets only by { env: NAME } reference.");

export type VaultAuthConfig = z.infer<typeof vaultAuthSchema>;

export const vaultKv2ConfigSchema = z
  .strictObject({
    ...storeEntryBase,
    type: z.literal("vault-kv2"),
    address: httpUrl({ example: "https://vault.example.com:8200", shape: "noQuery" }).describe(
      "Vault's address, e.g. https://vault.example.com:8200 (as in VAULT_ADDR).",
    ),
    namespace: vaultPath("namespace")
      .optional()
      .describe("Vault Enterprise / OpenBao namespace (X-Vault-Namespace), e.g. admin/team."),
    mount: vaultPath("mount").default("secret").describe('The KV version 2 secrets engine mount; default "secret".'),
    path: vaultPath("path").describe("The secret's path inside the mount, e.g. apps/twilio."),
    auth: vaultAuthSchema,
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the CA that signed Vault's TLS certificate, if not a public CA (as VAULT_CACERT); a " +
          "relative path is resolved against the config file's directory.",
      ),
  })
  .superRefine((entry, context) => {
    uniqueFieldNames(entry, "json", context, "key");
    // User name, password, query and fragment are refused by httpUrl.
    const url = URL.canParse(entry.address) ? new URL(entry.address) : undefined;
    if (entry.caFile !== undefined && url?.protocol === "http:") {
      context.addIssue({
        code: "custom",
        path: ["caFile"],
        message: "is only used with an https:// address; use https, or remove caFile",
      });
    }
  })
  .describe(
    "A secret in a HashiCorp Vault (or OpenBao) KV version 2 mount. Writes are check-and-set against the " +
      "version read in preflight; other keys in the secret are kept; rollback writes the previous version back.",
  );

export type VaultKv2Config = z.infer<typeof vaultKv2ConfigSchema>;
