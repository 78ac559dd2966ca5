/** `rotator sync`: the engine's sync, as the command calls it (options parsed in command.ts). */
export { type SyncOptions, sync } from "../../engine/index.js";
