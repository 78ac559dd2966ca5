/** rotator as a library: the same engine the CLI runs. The consumer side lives in `rotator/consumer`. */
export type { RestorePoint, StoredCredential, StoreProvider, StoreSnapshot } from "../providers/contract.js";
export { StoreError } from "../providers/errors.js";
export { status } from "./commands/status/run.js";
export { type LoadedConfig, loadConfig } from "./config/load.js";
export type { RotatorConfig } from "./config/schema.js";
export { startTwilioEmulator } from "./emulator/index.js";
export { buildContext, closeContext, type EngineContext } from "./engine/context.js";
export { plan, resume, rollback, rotate, sync } from "./engine/index.js";
export { defaultStateDir } from "./engine/journal.js";
export { type Reporter, silentReporter, streamReporter } from "./engine/reporter.js";
export type { CommandResult } from "./engine/result.js";
export { ConfigError, ExitCode, PreflightError, RotatorError } from "./errors.js";
