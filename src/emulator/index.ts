/**
 * A stateful, in-memory Twilio (api v2010 Accounts/Keys/Messages/IncomingPhoneNumbers, iam v1 Keys, accounts v1
 * AuthTokens) that sends signed webhooks.
 */
export type { EmulatorBehaviour, EmulatorBehaviourInput } from "./behaviour.js";
export {
  type EmulatorKey,
  type EmulatorSubaccount,
  type RegionOption,
  startTwilioEmulator,
  type TwilioEmulator,
  type TwilioEmulatorOptions,
} from "./emulator.js";
export type { FaultController, FaultInput, FaultView } from "./faults.js";
export { type KeyPolicy, MAX_PERMISSIONS } from "./policy.js";
export type { RateLimitInput } from "./rate-limit.js";
export { DEFAULT_REGION, DEFAULT_REGIONS } from "./region.js";
export { TEST_FROM } from "./resources/messages.js";
export { MESSAGES_CREATE, MESSAGES_READ, PHONE_NUMBERS_PERMISSION } from "./routes.js";
export { defaultSpecDir, findProjectRoot } from "./spec.js";
export type { AccountStatus, EmulatorSnapshot, KeyType } from "./state.js";
export type { EmulatorStats } from "./stats.js";
export type {
  EmulatorWebhooks,
  PhoneNumberView,
  SeedNumberInput,
  WebhookSettings,
} from "./webhooks/controller.js";
export type { TrafficInput, TrafficView } from "./webhooks/traffic.js";
export type { UrlCounts, WebhookCounts, WebhookDelivery, WebhookKind, WebhookOutcome } from "./webhooks/webhook-log.js";
