/** rotator as a library: the same engine the CLI runs. The consumer side lives in `rotator/consumer`. */
export type { RestorePoint, StoredCredential, StoreProvider, StoreSnapshot } from "../providers/contract.js";
export { StoreError } from "../providers/errors.js";
export { type LoadedConfig, loadConfig } from "./config/load.js";
export type { RotatorConfig } from "./config/schema.js";
// Credential types as plug-ins: define one, register it before loading a config (README, "Developing").
export {
  type ConfigProblem,
  type ConsumerStatusFields,
  type CredentialConfigBase,
  type CredentialConfigSchema,
  type CredentialField,
  type CredentialTypeDefinition,
  type CredentialTypeSpec,
  defineCredentialType,
  type IssuerEnvironment,
  type IssuerFactory,
  type LostCredentialWords,
  type SuppliedCredential,
  type TwilioLogin,
} from "./credentials/definition.js";
export type {
  AccountMarks,
  CredentialInfo,
  CredentialLabels,
  IssuedCredential,
  Issuer,
  IssuerPreflight,
  VerifyOutcome,
} from "./credentials/issuer.js";
export { type JournalWord, journalWord } from "./credentials/journal-word.js";
export { credentialTypeOf, registerCredentialType, registeredCredentialTypes } from "./credentials/registry.js";
export * as credentialSchemaParts from "./credentials/schema-parts.js";
export { startTwilioEmulator } from "./emulator/index.js";
export { buildContext, closeContext, type EngineContext } from "./engine/context.js";
export { plan, resume, rollback, rotate, sync } from "./engine/index.js";
export { defaultStateDir } from "./engine/journal.js";
export { type StatusResult, status } from "./engine/read.js";
export { type Reporter, silentReporter, streamReporter } from "./engine/reporter.js";
export type { CommandResult } from "./engine/result.js";
export { ConfigError, ExitCode, PreflightError, RotatorError } from "./errors.js";
