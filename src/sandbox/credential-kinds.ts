/**
 * What the sandbox does differently for each credential it can rotate: the credential its stores start with,
 * the config's `credential:` section, the emulator's settings, whether its apps receive webhooks, and what
 * is left in the account once the run is over. Everything else (stores, apps, the engine, the checks that
 * every store holds the new credential and the old one is dead) is the same for both.
 */

import type { StoredCredential } from "../../providers/contract.js";
import { StoredFields } from "../../providers/fields.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { credentialId } from "../credentials/stored.js";
import type { TwilioEmulator } from "../emulator/index.js";
import { maskSid } from "../util/mask.js";
import type { SandboxCredentialType } from "./options.js";

/**
 * How long after a promote the sandbox's Twilio still signs webhooks with the old token (Twilio's
 * propagation), and how long the config tells rotator to keep the old token for validation after it.
 */
export const SANDBOX_SIGNING_LAG_MS = 2_000;

/** How often the emulator sends an inbound message to each app during an Auth Token sandbox run. */
export const SANDBOX_WEBHOOK_INTERVAL_MS = 50;

export interface SandboxCredentialKind {
  type: SandboxCredentialType;
  /** What the sandbox calls it in its checks: "key", "token". */
  noun: string;
  /** What became of the old one once Twilio refuses it: "revoked", "promoted away". */
  oldGone: string;
  /** Makes the credential the stores start with, in the emulator (no HTTP: the apps wait for it). */
  seed(emulator: TwilioEmulator): StoredCredential;
  /** The config's `twilio.admin`, given the variable holding the account's token. */
  admin(tokenVariable: string): string;
  /** What to do next for a real setup, one step a line. */
  nextSteps: readonly string[];
  /** The config's `credential:` section, each line indented under it. */
  configLines: readonly string[];
  /** `startTwilioEmulator` settings beyond the sandbox's own. */
  emulatorOptions: { signingLagMs?: number };
  /** Whether its apps validate webhooks the emulator sends them (only an Auth Token signs webhooks). */
  webhooks: boolean;
  /** Checks of what the account holds after the run, one line each. */
  accountChecks(emulator: TwilioEmulator): string[];
  /** Checks of what a store holds beyond its current credential (a previous token left behind). */
  storeChecks(name: string, held: StoredCredential | undefined): string[];
}

const apiKey: SandboxCredentialKind = {
  type: "api-key",
  noun: "key",
  oldGone: "revoked",
  seed(emulator) {
    const key = emulator.createStandardKey(emulator.accountSid, { friendlyName: "sandbox-seed" });
    return { kind: "api-key", accountSid: emulator.accountSid, apiKeySid: key.sid, apiKeySecret: key.secret };
  },
  admin: (variable) => `{ authToken: { env: ${variable} } }`,
  nextSteps: [
    "`rotator init dotenv-file vault-kv2` (the store types you use) writes a commented rotator.yaml; `rotator validate` checks it",
    "`rotator plan` shows what rotate would do against them, changing nothing",
    'make each app report its key (the consumer contract, README "Consumers"), or use rotator/consumer',
    "`rotator rotate`, then `rotator rotate --if-due --yes` from a daily schedule",
  ],
  configLines: ["  type: api-key", "  keyType: standard", "  friendlyNamePrefix: sandbox"],
  emulatorOptions: {},
  webhooks: false,
  accountChecks: (emulator) => [
    `keys left in the account: ${
      emulator
        .keys()
        .map((k) => maskSid(k.sid))
        .join(", ") || "none"
    }`,
  ],
  storeChecks: () => [],
};

const authToken: SandboxCredentialKind = {
  type: "auth-token",
  noun: "token",
  oldGone: "promoted away",
  seed: (emulator) => ({ kind: "auth-token", accountSid: emulator.accountSid, authToken: emulator.authToken }),
  // The token rotated is the admin credential too: read from a store, it is the current one after the promote.
  admin: () => "{ authToken: { fromStore: app-a } }",
  nextSteps: [
    "`rotator init dotenv-file vault-kv2 --credential auth-token` (the store types you use) writes a commented rotator.yaml; `rotator validate` checks it",
    "`rotator plan` shows what rotate would do against them, changing nothing",
    'make each app report its token and validate webhooks with credentials.webhookValidator() (README "The consumer library"), or follow the consumer contract (README "Consumers")',
    "`rotator rotate`, then `rotator rotate --if-due --yes` from a daily schedule",
  ],
  // The old token stays in the stores, for validating webhooks, as long as Twilio may still sign with it.
  configLines: ["  type: auth-token", `  webhookSigningLagSeconds: ${SANDBOX_SIGNING_LAG_MS / 1000}`],
  emulatorOptions: { signingLagMs: SANDBOX_SIGNING_LAG_MS },
  webhooks: true,
  accountChecks(emulator) {
    const account = emulator.snapshot().accounts.find((a) => a.sid === emulator.accountSid);
    return [`secondary token left in the account: ${account?.secondaryAuthToken ? "one" : "none"}`];
  },
  storeChecks: (name, held) =>
    held?.previousAuthToken === undefined
      ? []
      : [`${name}.env still holds the previous token beside the current one (not retired)`],
};

const KINDS: Record<SandboxCredentialType, SandboxCredentialKind> = { "api-key": apiKey, "auth-token": authToken };

export function sandboxCredentialKind(type: SandboxCredentialType = "api-key"): SandboxCredentialKind {
  return KINDS[type];
}

/** The credential's lines in a dotenv store, under the names rotator writes it with by default. */
export function dotenvLines(credential: StoredCredential): string[] {
  const fields = new StoredFields(credentialTypeOf(credential.kind), "dotenv", undefined);
  return Object.entries(fields.toStore(credential)).map(([name, value]) => `${name}=${value}`);
}

/** The credential's id masked, as results show it (`SK…a1b2`, a token's fingerprint `3f…9c0d`). */
export function maskedIdOf(credential: StoredCredential | undefined): string {
  return maskSid(credential === undefined ? undefined : credentialId(credential));
}
