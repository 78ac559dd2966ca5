/** A stateful, in-memory Twilio (api v2010 Accounts/Keys/Messages, iam v1 Keys, accounts v1 AuthTokens). */
export { type EmulatorKey, startTwilioEmulator, type TwilioEmulator, type TwilioEmulatorOptions } from "./emulator.js";
export type { FaultController, FaultInput, FaultView } from "./faults.js";
export { type KeyPolicy, MAX_PERMISSIONS } from "./policy.js";
export { MESSAGES_READ } from "./routes.js";
export { defaultSpecDir, findProjectRoot } from "./spec.js";
export type { AccountStatus, EmulatorSnapshot, KeyType } from "./state.js";
