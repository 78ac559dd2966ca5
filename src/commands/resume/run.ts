/** `rotator resume`: the engine's resume, as the command calls it (options parsed in command.ts). */
export { type ResumeOptions, resume } from "../../engine/index.js";
