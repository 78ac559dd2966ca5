/** rotator as a library: the same engine the CLI runs. The consumer side lives in `rotator/consumer`. */
export type { StoredCredential, StoreProvider, StoreSnapshot, RestorePoint } from "../providers/contract.js";
export { StoreError } from "../providers/errors.js";
export { loadConfig, type LoadedConfig } from "./config/load.js";
export type { RotatorConfig } from "./config/schema.js";
export { buildContext, closeContext, type EngineContext } from "./engine/context.js";
export { defaultStateDir } from "./engine/journal.js";
export { plan } from "./engine/plan.js";
export { streamReporter, silentReporter, type Reporter } from "./engine/reporter.js";
export type { CommandResult } from "./engine/result.js";
export { resume } from "./engine/resume.js";
export { rollback } from "./engine/rollback.js";
export { rotate } from "./engine/rotate.js";
export { status } from "./engine/status.js";
export { ExitCode, RotatorError, ConfigError, PreflightError } from "./errors.js";
export { startTwilioEmulator } from "./emulator/index.js";
