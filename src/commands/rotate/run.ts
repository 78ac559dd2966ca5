/** `rotator rotate`: the engine's rotate, as the command calls it (options parsed in command.ts). */
export { type ConfirmationRequest, type RotateOptions, rotate } from "../../engine/index.js";
