/**
 * The config `rotator init` writes: commented, valid as written (`rotator validate` passes on it), with every
 * value a user must change marked CHANGE ME. One store template per store type; the record's type makes the
 * compiler refuse a registry without its template. What depends on the credential type comes from its
 * definition (`init`, its fields, what its consumers report): this file never asks which type it is.
 */
import type { ProviderType } from "../../../providers/registry.js";
import type { CredentialTypeDefinition, InitTemplate } from "../../credentials/definition.js";
import { credentialTypeOf, registeredCredentialTypes } from "../../credentials/registry.js";

/** What a store of each type is called in the config, before a second of the same type gets a number. */
export const STORE_NAMES: Record<ProviderType, string> = {
  "dotenv-file": "app",
  "vault-kv2": "vault",
  "aws-secrets-manager": "aws",
  "azure-key-vault": "azure",
  "kubernetes-secret": "k8s",
};

/** A store entry, as lines under `stores:`; `{name}` is its name, `{suffix}` "" for the first of a type, then "-2", ... */
const STORE_TEMPLATES: Record<ProviderType, (credential: CredentialTypeDefinition) => string> = {
  "dotenv-file": (credential) => `  - name: {name}
    type: dotenv-file
    path: ./twilio{suffix}.env # CHANGE ME: the file an app reads (mode 0600); relative to this config
${dotenvFieldsComment(credential)}`,
  "vault-kv2": () => `  - name: {name}
    type: vault-kv2
    address: https://vault.example.com:8200 # CHANGE ME: as in VAULT_ADDR (an emulator: http://127.0.0.1:8200)
    mount: secret # the KV version 2 mount
    path: apps/twilio{suffix} # CHANGE ME: the secret's path inside the mount
    auth: { method: token, token: { env: VAULT_TOKEN } }
    # auth: { method: approle, roleId: rotator, secretId: { env: VAULT_SECRET_ID } }
    # auth: { method: kubernetes, role: rotator }
    # caFile: /etc/ssl/vault-ca.pem # the CA of a Vault with a private certificate`,
  "aws-secrets-manager": () => `  - name: {name}
    type: aws-secrets-manager
    secretId: prod/twilio{suffix} # CHANGE ME: the secret's name or ARN (it must exist)
    region: us-east-1 # CHANGE ME; credentials come from the SDK's chain (AWS_PROFILE, a role, ...)
    # endpoint: http://127.0.0.1:5000 # an emulator (moto); default: AWS`,
  "azure-key-vault": () => `  - name: {name}
    type: azure-key-vault
    vaultUrl: https://my-vault.vault.azure.net # CHANGE ME: the vault's URI
    secretName: twilio{suffix} # CHANGE ME: the secret (it must exist and hold a JSON object, at least {})
    auth: { method: default } # DefaultAzureCredential: environment, workload or managed identity, Azure CLI
    # An application's secret instead (authorityHost: a private authority, or \`rotator emulator azure-key-vault\`):
    # auth: { method: client-secret, tenantId: <guid>, clientId: <guid>, clientSecret: { env: AZURE_CLIENT_SECRET } }`,
  "kubernetes-secret": () => `  - name: {name}
    type: kubernetes-secret
    namespace: default # CHANGE ME: the Secret's namespace
    secretName: twilio{suffix} # CHANGE ME: the Secret pods read (created if absent)
    # Connection: in a pod, its service account; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config).
    # kubeconfig: ~/.kube/config
    # context: prod
    # A Secret External Secrets Operator fills from another store: rotator waits for it instead of writing it.
    # syncedFrom: aws`,
};

/**
 * The comment on a dotenv store's variables: the names an operator fills (the type's required fields), how to
 * rename one, and the optional fields rotator writes itself during a rotation, named so that nobody fills them.
 */
function dotenvFieldsComment(credential: CredentialTypeDefinition): string {
  const required = credential.fields.filter((field) => field.optional !== true).map((field) => field.dotenv);
  const rotators = credential.fields.filter((field) => field.optional === true).map((field) => field.dotenv);
  const example = initOf(credential).fieldsExample;
  return [
    `    # The variables, if not ${required.join(", ")}:`,
    ...(example === undefined ? [] : [`    # fields: { ${example} }`]),
    ...(rotators.length === 0
      ? []
      : [`    # rotator itself writes ${rotators.join(" and ")} while a rotation runs (leave it out of the file)`]),
  ].join("\n");
}

/** The type's own template, or, for a type without one, an env-var admin and a `credential:` of its defaults. */
function initOf(credential: CredentialTypeDefinition): Omit<InitTemplate, "fieldsExample"> & {
  fieldsExample?: string;
} {
  return (
    credential.init ?? {
      admin: () => "  admin: { authToken: { env: TWILIO_AUTH_TOKEN } } # CHANGE ME: the credential rotator acts with",
      section: `credential:\n  type: ${credential.type}\n  maxAgeDays: 90`,
    }
  );
}

const HEAD = (
  stores: string[],
  credential: string,
) => `# A rotator config, made by \`rotator init ${stores.join(" ")}${credential === registeredCredentialTypes()[0]?.type ? "" : ` --credential ${credential}`}\`.
# Change each CHANGE ME, then \`rotator validate\` (offline) and \`rotator plan\` (changes nothing).
# Secret values never go in here: only where they are ({ env: NAME }, or a store).
version: 1

twilio:
  accountSid: ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa # CHANGE ME: the account (Twilio Console dashboard)`;

const TAIL = (credential: CredentialTypeDefinition) => `
# The app instances that read those stores: the old credential is revoked only once each reports the new one.
# consumers:
#   - name: web-1
#     type: http # answers {"${credential.consumerStatus.statusField}": "…", "authenticated": true}: README "Consumers", or rotator/consumer
#     url: http://10.0.0.5:8080/.well-known/twilio-credential # CHANGE ME: the app's base URL and status path
#     reload: { url: http://10.0.0.5:8080/-/reload-credentials } # optional: asks it to re-read its store
#   - name: worker-1
#     type: command # exit 0 when it uses $${credential.consumerStatus.expectedVariable} and authenticates
#     command: [/usr/local/bin/check-twilio-credential]

verify:
  consumersTimeoutSeconds: 300 # consumers not switched by then: the run stops, revoking nothing (exit 4)

# Who hears about runs and about \`rotator watch\`'s alerts (a failing target never changes a run):
# notify:
#   - { type: webhook, url: https://hooks.example.com/rotator, secret: { env: ROTATOR_WEBHOOK_SECRET } }
#   - { type: slack, url: { env: SLACK_WEBHOOK_URL } }

# Journals and locks shared by several hosts (default: the local state directory):
# state: { backend: postgres, url: { env: DATABASE_URL } }
`;

/** The config for these store types (in this order), as YAML text. */
export function initialConfig(stores: readonly ProviderType[], type: string): string {
  const credential = credentialTypeOf(type);
  const template = initOf(credential);
  const seen = new Map<ProviderType, number>();
  const entries = stores.map((type) => {
    const count = (seen.get(type) ?? 0) + 1;
    seen.set(type, count);
    const suffix = count === 1 ? "" : `-${count}`;
    const name = `${STORE_NAMES[type]}${suffix}`;
    return { name, text: STORE_TEMPLATES[type](credential).replaceAll("{name}", name).replaceAll("{suffix}", suffix) };
  });
  return [
    HEAD([...stores], credential.type),
    template.admin(entries[0]?.name ?? STORE_NAMES["dotenv-file"]),
    "  # baseUrl: http://127.0.0.1:4010 # `rotator emulator twilio`, to try it locally; default: Twilio",
    "",
    template.section,
    "",
    "# Written in this order; on any failure restored in reverse, and the new credential deleted.",
    "stores:",
    ...entries.map((entry) => entry.text),
    TAIL(credential),
  ].join("\n");
}
