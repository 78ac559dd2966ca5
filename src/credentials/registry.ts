/**
 * Every credential type rotator knows, by `credential.type`. To add one: a folder beside these with the same
 * files (schema.ts, labels.ts, issuer.ts, index.ts), and one line here. The config schema and the issuer a
 * context gets follow from this map; registry.test.ts checks it against the folders.
 */
import * as z from "zod";
import { apiKey } from "./api-key/index.js";
import { authToken } from "./auth-token/index.js";
import type { CredentialTypeDefinition, IssuerEnvironment } from "./definition.js";
import type { CredentialLabels, Issuer } from "./issuer.js";

/** Keyed by type; `registry()` makes the compiler check each key against its schema's `type` literal. */
export const credentialTypes = registry({
  "api-key": apiKey,
  "auth-token": authToken,
});

export type CredentialType = keyof typeof credentialTypes;

const definitions: readonly (typeof credentialTypes)[CredentialType][] = Object.values(credentialTypes);

/** `credential:` in config: one of the types' schemas, chosen by `type`. */
export const credentialSchema = discriminatedByType(definitions.map((definition) => definition.configSchema));

export type CredentialConfig = z.infer<typeof credentialSchema>;

/** The issuer for a config's `credential:` section (its code is loaded on first use). */
export async function createIssuer(config: CredentialConfig, environment: IssuerEnvironment): Promise<Issuer> {
  const definition = credentialTypes[config.type] as CredentialTypeDefinition;
  const create = await definition.load();
  return create(definition.configSchema.parse(config), environment);
}

/** The words of a credential type, by its name (a journal's `credentialType`); API keys for older runs. */
export function labelsOf(type: string | undefined): CredentialLabels {
  return (credentialTypes[type as CredentialType] ?? apiKey).labels;
}

function registry<
  const Map extends { readonly [Type in keyof Map]: CredentialTypeDefinition<z.ZodType<{ type: Type }>> },
>(map: Map): Map {
  return map;
}

function discriminatedByType<Schema extends z.core.$ZodTypeDiscriminable>(schemas: readonly Schema[]) {
  const [first, ...rest] = schemas;
  if (first === undefined) throw new Error("no credential types registered");
  return z.discriminatedUnion("type", [first, ...rest]);
}
