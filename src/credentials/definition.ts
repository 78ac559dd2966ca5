/**
 * What each credential-type folder under src/credentials/ exports, as store providers do under providers/:
 * the `credential:` schema of its config, its fields (names, which are secret, their default names in stores),
 * its id, the words messages and the journal use for it, what a consumer reports of it, and its issuer, loaded
 * on first use (issuers bring the Twilio SDK). The registry (./registry.ts) maps every type to its definition;
 * the config schema, the issuer a context gets, and what stores write all follow from it. Code outside this
 * folder never asks which type a credential is: it asks the definition.
 */
import type * as z from "zod";
import type { CredentialLayout, StoredCredential, StoredField } from "../../providers/contract.js";
import type { RequestThrottle } from "../twilio/client.js";
import type { AdminCredentialShape, ValueShape } from "../twilio/diagnose.js";
import { maskSid } from "../util/mask.js";
import type { CredentialLabels, Issuer } from "./issuer.js";
import type { JournalWord } from "./journal-word.js";

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

export type IssuerFactory<Config> = (config: Config, environment: IssuerEnvironment) => Issuer | Promise<Issuer>;

/** A field of a credential type: the store-facing part (contract.ts), and what people are told it is. */
export interface CredentialField extends StoredField {
  /** What it holds, for messages ("the key's SID"). */
  readonly about: string;
  /** Which of Twilio's values it is, so `rotator doctor` checks its format (an account SID, a key's secret, ...). */
  readonly shape?: ValueShape;
}

/** How `rotator doctor` speaks of a credential of this type. */
export interface DoctorWords {
  /** Its name in doctor's findings: "environment (API key)", "holds no Auth Token". */
  readonly title: string;
  /** Why it needs each of its fields, after "set A and B (": "an API key needs the account SID, the key SID and its secret". */
  readonly needs: string;
}

/** What a consumer reports of the credential it uses, so rotator can tell whether it switched. */
export interface ConsumerStatusFields {
  /** The field of an `http` consumer's status JSON holding the credential's id ("keySid"). */
  readonly statusField: string;
  /** The environment variable a `command` consumer gets the expected id in ("ROTATOR_EXPECTED_KEY_SID"). */
  readonly expectedVariable: string;
}

/** Where a type keeps the credential a rotation replaces, and for how long after the revoke (CredentialTypeSpec). */
export interface KeepsPrevious {
  /** The optional field (`previousAuthToken`) that holds it beside the new credential. */
  readonly field: string;
  /** The field of the replaced credential it holds (`authToken`). */
  readonly from: string;
  /** What it is kept for, after "the previous token is kept ": "for validating webhooks". */
  readonly purpose: string;
  /** The revoke as people know it for this type: "the promote". */
  readonly revokeName: string;
  /** Why it is kept that long after the revoke, for plan: "Twilio may sign webhooks with the old token for a while after it". */
  readonly keepReason: string;
  /** Seconds after the revoke that stores keep it (a config setting, such as `webhookSigningLagSeconds`). */
  keepSeconds(config: CredentialConfigBase): number;
  /** That setting's path in the config, for messages: "credential.webhookSigningLagSeconds". */
  readonly keepSetting: string;
  /** What retiring it at once (an emergency) costs, for plan and the result. */
  readonly retiredAtOnceCost: string;
}

/** `rotator sync --from-env NAME [--key-sid SK…]`: the credential an operator supplies. */
export interface SuppliedCredential {
  /** What the variable holds, in "the API key's secret", "the auth token's value". */
  readonly valueWord: string;
  /** Whether `--key-sid` names the credential beside the variable's value. */
  readonly takesKeySid: boolean;
  /** The credential; a sentence saying what is missing when `--key-sid` is needed and absent or malformed. */
  build(accountSid: string, value: string, keySid: string | undefined): StoredCredential | string;
}

/** What a run tells the operator when its new credential died under it (engine/lost-credential.ts). */
export interface LostCredentialWords {
  /** Why it no longer authenticates, after "the run's new key SK…a1b2 no longer authenticates: ". */
  readonly cause: string;
  /** The variable the `rotator sync --from-env` hint names. */
  readonly syncVariable: string;
  /** What follows the hint's command (` --key-sid SK… (a key that works)`). */
  readonly syncHintTail: string;
}

/** HTTP Basic credentials for Twilio's API. `password` is a secret. */
export interface TwilioLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * What `rotator init` writes for a config of this type (src/commands/init/templates.ts), beside what it derives
 * from the fields (a dotenv store's variables) and `consumerStatus` (what consumers answer).
 */
export interface InitTemplate {
  /**
   * The `admin:` entry under `twilio:`, comments first, each line indented two spaces; `firstStore` is the name of
   * the config's first store (an account token may be read back from it).
   */
  admin(firstStore: string): string;
  /** The `credential:` section, from its `credential:` line, with a comment per setting. */
  readonly section: string;
  /** A field renamed in a commented dotenv `fields:` example: `apiKeySid: TWILIO_API_KEY_SID`. */
  readonly fieldsExample: string;
}

/** A problem with a config, at a path inside its `credential:` section. */
export interface ConfigProblem {
  readonly path: readonly string[];
  readonly message: string;
}

/** What every type's `credential:` section has: the engine reads these without knowing the type. */
export interface CredentialConfigBase {
  type: string;
  maxAgeDays: number;
  verifyPath: string;
}

/** A type's config schema: a strict Zod object with a literal `type` and the fields of CredentialConfigBase. */
export type CredentialConfigSchema = z.ZodType<CredentialConfigBase> & z.core.$ZodTypeDiscriminable;

/** What a credential-type folder declares (its index.ts, through `defineCredentialType`). */
export interface CredentialTypeSpec<Schema extends CredentialConfigSchema> extends CredentialLayout {
  readonly type: string;
  readonly configSchema: Schema;
  /** Its words; the journal's is checked (`journalWord("client-secret")`), so it round-trips through the journal. */
  readonly labels: CredentialLabels & { readonly word: JournalWord };
  /** One line for the JSON Schema's description and for `--help`. */
  readonly summary: string;
  /** Its fields, `accountSid` first; at least one is secret. */
  readonly fields: readonly CredentialField[];
  /** The credential's id: journaled, compared, shown masked. Never a secret. */
  id(credential: StoredCredential): string;
  readonly consumerStatus: ConsumerStatusFields;
  /** How a message names this credential to an app's developer ("API key SK…a1b2", "the auth token"). */
  describe(credential: StoredCredential): string;
  /** How Twilio takes the credential: HTTP Basic user name and password (the secret). */
  twilioLogin(credential: StoredCredential): TwilioLogin;
  /**
   * The credential is the account's own Auth Token: it can also be the admin credential (`twilio.admin.authToken:
   * { fromStore }`), a rotation claims the account's token slot, and a dead one may be recovered as the admin.
   */
  readonly accountToken: boolean;
  /**
   * The type's old credential keeps a use after the revoke, for a while: stores carry it beside the new one (in an
   * optional field) from the first write, and a second write retires it after the revoke (engine: retire-previous).
   * An Auth Token: Twilio signs webhooks with the primary, so apps must accept both tokens across the promote, and
   * may still get webhooks signed with the old one for a while after it. Absent: the old credential has no use once
   * revoked (API keys).
   */
  readonly keepsPrevious?: KeepsPrevious;
  readonly supplied: SuppliedCredential;
  readonly lost: LostCredentialWords;
  /** What a run's journaled facts record of the config's section besides its type (an API key's keyType). */
  runFacts(config: CredentialConfigBase): Record<string, string>;
  /** The GET that proves a credential of this type authenticates when no config says (`credential.verifyPath`). */
  readonly defaultVerifyPath: string;
  /** How doctor names it; a type without words is called by its labels' `long` name. */
  readonly doctor?: DoctorWords;
  /** What `rotator init` writes for it; a type without one gets a config with its type and defaults. */
  readonly init?: InitTemplate;
  /** Why a fleet (`accounts:`) cannot rotate this config's credential, at a path inside `credential:`; or nothing. */
  fleetProblem(config: CredentialConfigBase): ConfigProblem | undefined;
  /** The issuer's factory, loaded on first use (issuers bring the Twilio SDK). */
  load(): Promise<IssuerFactory<z.infer<Schema>>>;
}

/**
 * A credential type as the registry and the rest of rotator see it, whatever its config's own shape: the spec,
 * with the issuer made from a config section it parses itself.
 */
export interface CredentialTypeDefinition extends Omit<CredentialTypeSpec<CredentialConfigSchema>, "load"> {
  readonly fields: readonly CredentialField[];
  /** The id as people see it (`SK…a1b2`): the id masked. */
  masked(credential: StoredCredential): string;
  /** The secret values the credential holds (registered with the redactor, never shown). */
  secretsOf(credential: StoredCredential): string[];
  /** The issuer for a `credential:` section of this type (parsed again with the type's own schema). */
  createIssuer(config: unknown, environment: IssuerEnvironment): Promise<Issuer>;
}

/** Every type's first field: the account the credential belongs to, under the Twilio SDKs' own names. */
export const ACCOUNT_SID_FIELD: CredentialField = {
  key: "accountSid",
  secret: false,
  json: "accountSid",
  dotenv: "TWILIO_ACCOUNT_SID",
  about: "the account SID",
  shape: "account-sid",
};

export function defineCredentialType<Schema extends CredentialConfigSchema>(
  spec: CredentialTypeSpec<Schema>,
): CredentialTypeDefinition {
  if (spec.fields[0]?.key !== "accountSid") {
    throw new Error(`credential type ${spec.type}: its first field must be accountSid`);
  }
  const secret = spec.fields.filter((field) => field.secret).map((field) => field.key);
  if (secret.length === 0) {
    throw new Error(`credential type ${spec.type}: no field is secret, so nothing would be kept from output`);
  }
  const { load, ...rest } = spec;
  return {
    ...rest,
    id: (credential) => spec.id(credential),
    masked: (credential) => maskSid(spec.id(credential)),
    secretsOf: (credential) => secret.flatMap((key) => credential[key] ?? []),
    createIssuer: async (config, environment) => (await load())(spec.configSchema.parse(config), environment),
  };
}
