/** `rotator status` runs the engine's status operation (src/engine/operations/status.ts). */
export { CHECK_EXIT_CODES, type CheckState, type StatusResult, status } from "../../engine/read.js";
