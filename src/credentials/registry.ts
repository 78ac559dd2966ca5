/**
 * Every credential type rotator knows, by `credential.type`. To add one: a folder beside these with the same
 * files (schema.ts, labels.ts, credential.ts, issuer.ts, index.ts), and one line in `BUILT_IN` below; or, from
 * outside this repository, one `registerCredentialType(definition)` call before the config is loaded, as a
 * plug-in would. The config schema, the issuer a context gets, and what stores write follow from this registry;
 * registry.test.ts checks it against the folders.
 */
import * as z from "zod";
import type { StoredCredential } from "../../providers/contract.js";
import { provideCredentialLayouts } from "../../providers/credential-layouts.js";
import { apiKey } from "./api-key/index.js";
import { authToken } from "./auth-token/index.js";
import type { CredentialConfigBase, CredentialTypeDefinition, IssuerEnvironment } from "./definition.js";
import type { Issuer } from "./issuer.js";

/** The types this repository defines, one folder each. */
const BUILT_IN: readonly CredentialTypeDefinition[] = [apiKey, authToken];

const registered = new Map<string, CredentialTypeDefinition>(
  BUILT_IN.map((definition) => [definition.type, definition]),
);

// The store layer reads the types' field layouts through its port, never importing this folder.
provideCredentialLayouts(registeredCredentialTypes);

/** Set once the config schema was built from the registry: a type registered later would never parse. */
let schemaBuilt = false;

/**
 * Add a credential type (a plug-in's), before anything loads a config. Its `type` must be its schema's `type`
 * literal (the config schema refuses two schemas with one literal) and new to the registry.
 */
export function registerCredentialType(definition: CredentialTypeDefinition): void {
  if (schemaBuilt) {
    throw new Error(`credential type ${definition.type} registered after the config schema was built`);
  }
  if (registered.has(definition.type)) throw new Error(`credential type ${definition.type} is registered already`);
  registered.set(definition.type, definition);
}

/** Every registered type, built-in ones first. */
export function registeredCredentialTypes(): readonly CredentialTypeDefinition[] {
  return [...registered.values()];
}

/** The definition of a type by its name (`credential.type`, a journal's `credentialType`, a credential's kind). */
export function credentialTypeOf(type: string): CredentialTypeDefinition {
  const definition = registered.get(type);
  if (definition === undefined) {
    throw new Error(`no credential type "${type}" is registered (known: ${[...registered.keys()].join(", ")})`);
  }
  return definition;
}

/**
 * The definition of a run's type by the name its journal recorded; API keys for journals of rotator 0.1, which
 * rotated nothing else and recorded no type.
 */
export function credentialTypeOfRun(type: string | undefined): CredentialTypeDefinition {
  return credentialTypeOf(type ?? apiKey.type);
}

/**
 * What a result or a journal calls its credential, by the type it names: a journal of 0.1 (no type) rotated a
 * key; a type no plug-in registered in this process is a "credential".
 */
export function credentialNoun(type: string | undefined): string {
  if (type === undefined) return apiKey.labels.noun;
  return registered.get(type)?.labels.noun ?? "credential";
}

/** Whether a type (as a journal names it) is the account's own token; false for a type not registered here. */
export function isAccountTokenType(type: string | undefined): boolean {
  return type !== undefined && registered.get(type)?.accountToken === true;
}

/** The definition of the type a stored credential is. */
export function definitionOf(credential: StoredCredential): CredentialTypeDefinition {
  return credentialTypeOf(credential.kind);
}

/**
 * `credential:` in config: one of the registered types' schemas, chosen by `type`. Built on first use (so a
 * plug-in registered before loading a config is in it).
 */
export function credentialSchema() {
  schemaBuilt = true;
  const [first, ...rest] = registeredCredentialTypes().map((definition) => definition.configSchema);
  if (first === undefined) throw new Error("no credential types registered");
  return z.discriminatedUnion("type", [first, ...rest]);
}

/** The issuer for a config's `credential:` section (its code is loaded on first use). */
export function createIssuer(config: CredentialConfigBase, environment: IssuerEnvironment): Promise<Issuer> {
  return credentialTypeOf(config.type).createIssuer(config, environment);
}
