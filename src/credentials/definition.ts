/**
 * What each credential-type folder under src/credentials/ exports, as store providers do under providers/:
 * the `credential:` schema of its config, the words messages and the journal use for it, and its issuer,
 * loaded on first use (issuers bring the Twilio SDK). The registry (./registry.ts) maps every type to its
 * definition; the config schema and the issuer a context gets both follow from it.
 */
import type * as z from "zod";
import type { RequestThrottle } from "../twilio/client.js";
import type { AdminCredentialShape } from "../twilio/diagnose.js";
import type { CredentialLabels, Issuer } from "./issuer.js";

/** What an issuer is built with besides its own config section. */
export interface IssuerEnvironment {
  /** The admin credential, its secret resolved (from the environment, or from a store). */
  admin: AdminCredentialShape;
  /** An emulator's origin; undefined is Twilio itself. */
  baseUrl: string | undefined;
  /** How long a new credential may take to start authenticating. */
  propagationTimeoutMs: number;
  /** How long to wait for Twilio to refuse the revoked credential. */
  revokeConfirmTimeoutMs: number;
  /** How long one Twilio request may go unanswered (`twilio.timeoutSeconds`). */
  requestTimeoutMs?: number;
  onRetry?: (what: string, error: Error, attempt: number) => void;
  /**
   * Told when the issuer stops using the configured admin credential for another (an auth token rotated
   * out from under it): the engine journals and reports it. `from`/`to` describe them, never a secret.
   */
  onAdminSwitch?: (from: string, to: string) => void;
  /** Paces every Twilio request with other issuers' (a fleet's accounts share one throttle). */
  throttle?: RequestThrottle;
}

export type IssuerFactory<Config> = (config: Config, environment: IssuerEnvironment) => Issuer;

/**
 * Every credential type's config schema must be a strict Zod object with a literal `type`, and the fields
 * every type has (`maxAgeDays`, `verifyPath`): the engine reads those without knowing the type.
 */
export interface CredentialTypeDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly configSchema: Schema;
  readonly labels: CredentialLabels;
  /** One line for the JSON Schema's description and for `--help`. */
  readonly summary: string;
  load(): Promise<IssuerFactory<z.infer<Schema>>>;
}

export function defineCredentialType<Schema extends z.ZodType>(
  definition: CredentialTypeDefinition<Schema>,
): CredentialTypeDefinition<Schema> {
  return definition;
}
