/** `rotator plan`: the engine's dry run, as the command calls it (options parsed in command.ts). */
export { type PlanResult, plan } from "../../engine/index.js";
