/** `rotator rollback`: the engine's rollback, as the command calls it (options parsed in command.ts). */
export { type RollbackOptions, rollback } from "../../engine/index.js";
