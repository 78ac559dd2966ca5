/**
 * What an error from the Key Vault SDK or from @azure/identity means for a run: retry it, stop the run, or ask a
 * person; and what to tell the user.
 *
 * The Key Vault SDK raises RestError: `statusCode`, `code` (Key Vault's error code such as SecretNotFound, or a Node
 * network code such as ECONNREFUSED), `details` (the parsed `{"error":{"code","message","innerError"}}`), and, not
 * enumerable, the request (whose headers hold the bearer token and whose body, for a set, the secret value) and the
 * response (whose body, for a get, is the secret). @azure/identity raises AuthenticationError (an authority's
 * answer), AuthenticationRequiredError (MSAL's, "invalid_client: ... AADSTS7000215 ..."), CredentialUnavailableError
 * and AggregateAuthenticationError (DefaultAzureCredential's chain). None of them is ever passed on as it is: a cause
 * is an AzureErrorSummary holding only what is safe to show.
 */
import { failureKind } from "../error-kit/classify.js";
import { isTlsCode, mentionsNetworkCode } from "../error-kit/network.js";
import { nonEmpty, oneLine, property, SafeCause } from "../error-kit/safe-cause.js";
import type { StoreErrorKind } from "../errors.js";

export interface AzureFailure {
  kind: StoreErrorKind;
  /** Key Vault's error code, an Entra error (invalid_client), or a Node error code. */
  code: string;
  /** What it means and what to do, in the user's terms. */
  explanation: string;
  /** For a 429: how long Key Vault asked to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number | undefined;
}

/** Where the call went and how rotator authenticated, named in explanations. */
export interface AzureTarget {
  vaultUrl: string;
  secretName: string;
  /** `default` or `client-secret`, and for the latter the variable holding the secret and the ids. */
  auth: { method: "default" } | { method: "client-secret"; tenantId: string; clientId: string; secretVariable: string };
}

/** The fields of an error that are safe to read and show; never its request or response. */
interface ErrorFields {
  name: string;
  code: string | undefined;
  statusCode: number | undefined;
  /** Key Vault's `error.message`, or the first part of the error's own message. */
  message: string;
  innerCode: string | undefined;
  requestId: string | undefined;
  retryAfterMs: number | undefined;
}

const str = nonEmpty;

function fieldsOf(error: unknown): ErrorFields {
  if (error instanceof AzureErrorSummary) {
    const { name, code, statusCode, message, innerCode, requestId, retryAfterMs } = error;
    return { name, code, statusCode, message, innerCode, requestId, retryAfterMs };
  }
  const details = property(property(error, "details"), "error");
  const response = property(error, "response");
  const headers = property(response, "headers") as { get?(name: string): string | undefined } | undefined;
  const header = (name: string) => (typeof headers?.get === "function" ? headers.get(name) : undefined);
  const retryAfter = Number(header("retry-after"));
  const status = property(error, "statusCode");
  const serviceMessage = str(property(details, "message"));
  const ownMessage = error instanceof Error ? error.message : String(error);
  return {
    name: str(property(error, "name")) ?? "Error",
    code: str(property(error, "code")),
    statusCode: typeof status === "number" ? status : undefined,
    // A RestError without Key Vault's body may quote whatever the server answered (a secret's value, if a body
    // could not be parsed): only the service's own error message, or a message of a non-HTTP error, is shown.
    message: oneLine(
      serviceMessage ??
        (property(error, "name") === "RestError" && typeof status === "number" ? `HTTP ${status}` : ownMessage),
    ),
    innerCode: str(property(property(details, "innerError"), "code")),
    requestId: header("x-ms-request-id"),
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
  };
}

/**
 * What an SDK error said, as a `cause` that holds nothing else: the SDK's own errors keep the request (the bearer
 * token, the value being set) and the response (the value read) within reach of anything that inspects them.
 */
export class AzureErrorSummary extends SafeCause {
  override readonly name: string;
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  /** Key Vault's inner error code: SecretDisabled, ForbiddenByRbac, ObjectIsDeletedButRecoverable, ... */
  readonly innerCode: string | undefined;
  /** Key Vault's x-ms-request-id, for a support case. */
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(error: unknown) {
    const fields = fieldsOf(error);
    super(fields.message);
    this.name = fields.name;
    this.code = fields.code;
    this.statusCode = fields.statusCode;
    this.innerCode = fields.innerCode;
    this.requestId = fields.requestId;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

export function safeCause(error: unknown): AzureErrorSummary {
  return error instanceof AzureErrorSummary ? error : new AzureErrorSummary(error);
}

/** Key Vault's error code of an SDK error or its summary (SecretNotFound, Forbidden, ...), and its inner code. */
export function keyVaultCode(error: unknown): {
  code: string | undefined;
  innerCode: string | undefined;
  status: number | undefined;
} {
  const { code, innerCode, statusCode } = fieldsOf(error);
  return { code, innerCode, status: statusCode };
}

export function isDisabledVersion(error: unknown): boolean {
  const { statusCode, innerCode, message } = fieldsOf(error);
  return statusCode === 403 && (innerCode === "SecretDisabled" || /disabled secret/i.test(message));
}

export function classifyAzureError(error: unknown, target: AzureTarget): AzureFailure {
  const fields = fieldsOf(error);
  const { name, statusCode, innerCode, message } = fields;
  const code = fields.code ?? name;
  const said = message === "" ? "" : ` Key Vault said: ${message}`;

  const authority = authorityFailure(error, fields, target);
  if (authority !== undefined) return authority;

  if (failureKind({ status: statusCode, code, name }) === "retryable") {
    if (statusCode === 429) {
      return {
        kind: "retryable",
        code: "Throttled",
        explanation: `Key Vault is throttling requests${fields.retryAfterMs === undefined ? "" : ` (it asked to wait ${Math.ceil(fields.retryAfterMs / 1000)} s)`}; trying again later may work.`,
        retryAfterMs: fields.retryAfterMs,
      };
    }
    return {
      kind: "retryable",
      code,
      explanation:
        statusCode === undefined
          ? `no answer from the vault at ${target.vaultUrl} (${code}); it may be unreachable for now.`
          : `Key Vault failed on its side (HTTP ${statusCode}); trying again may work.`,
    };
  }
  if (statusCode === undefined && code === "ENOTFOUND") {
    return {
      kind: "fatal",
      code,
      explanation: `the vault's host in ${target.vaultUrl} does not resolve (ENOTFOUND); check "vaultUrl".`,
    };
  }
  if (statusCode === undefined && isTlsCode(code)) {
    return {
      kind: "fatal",
      code,
      explanation:
        `the TLS connection to ${target.vaultUrl} failed (${code}). If something between rotator and the vault ` +
        "(a TLS-inspecting proxy, a test server) presents a certificate of a private CA, give Node that CA with " +
        "NODE_EXTRA_CA_CERTS=/path/to/ca.pem; verification is never turned off.",
    };
  }
  if (/challenge resource .* does not match the requested domain/i.test(message)) {
    return {
      kind: "fatal",
      code: "ChallengeResourceMismatch",
      explanation:
        `the vault's authentication challenge names a resource that ${target.vaultUrl} is not under, so the SDK ` +
        "refused to send a token there. For a private endpoint under another domain, or a test server, set " +
        '"disableChallengeResourceVerification: true" on the store; otherwise check "vaultUrl".',
    };
  }
  if (statusCode === 401) {
    return {
      kind: "fatal",
      code,
      explanation: `Key Vault did not accept rotator's token (HTTP 401); check that the identity belongs to the vault's tenant.${said}`,
    };
  }
  if (statusCode === 403) {
    if (innerCode === "SecretDisabled" || /disabled secret/i.test(message)) {
      return {
        kind: "fatal",
        code: "SecretDisabled",
        explanation:
          `the version rotator reads of secret ${target.secretName} is disabled. Enable it again (az keyvault secret ` +
          "set-attributes --enabled true --id <version id>), or set a new, enabled version.",
      };
    }
    if (innerCode === "ForbiddenByFirewall") {
      return {
        kind: "fatal",
        code: innerCode,
        explanation: `the vault's firewall does not let this host in; allow its address, or reach the vault through its private endpoint.${said}`,
      };
    }
    if (innerCode === "ForbiddenByPolicy") {
      return {
        kind: "fatal",
        code: innerCode,
        explanation: `a policy on the vault refused the request (an Azure Policy may require, for instance, an expiration date on secrets).${said}`,
      };
    }
    return {
      kind: "fatal",
      code: innerCode ?? code,
      explanation:
        "permission denied. Rotator needs to get and set this secret: the role Key Vault Secrets Officer (RBAC) on " +
        `the vault or on the secret, or an access policy with the secret permissions Get and Set.${said}`,
    };
  }
  if (statusCode === 404) {
    return {
      kind: "fatal",
      code,
      explanation: `secret ${target.secretName} (or the version asked for) does not exist in the vault at ${target.vaultUrl}.${said}`,
    };
  }
  if (statusCode === 409) {
    return {
      kind: "fatal",
      code: innerCode ?? code,
      explanation:
        innerCode === "ObjectIsDeletedButRecoverable"
          ? `secret ${target.secretName} is soft-deleted: recover it (az keyvault secret recover) or purge it first.`
          : `Key Vault refused the request in the secret's present state (HTTP 409).${said}`,
    };
  }
  return {
    kind: "fatal",
    code,
    explanation:
      statusCode === undefined
        ? `the request to ${target.vaultUrl} failed (${code}: ${message}).`
        : `Key Vault answered HTTP ${statusCode} (${code}).${said}`,
  };
}

/** Failures of getting a token: the authority's answers, DefaultAzureCredential finding no credential. */
function authorityFailure(error: unknown, fields: ErrorFields, target: AzureTarget): AzureFailure | undefined {
  const { name, message } = fields;
  const identityError = [
    "AuthenticationError",
    "AuthenticationRequiredError",
    "CredentialUnavailableError",
    "AggregateAuthenticationError",
  ].includes(name);
  if (!identityError) return undefined;
  const entraError = str(property(property(error, "errorResponse"), "error")) ?? /^(\w+):/.exec(message)?.[1];
  const variable = target.auth.method === "client-secret" ? target.auth.secretVariable : undefined;
  const ids =
    target.auth.method === "client-secret" ? ` (tenant ${target.auth.tenantId}, client ${target.auth.clientId})` : "";
  if (entraError === "invalid_client" || /AADSTS7000215|AADSTS7000222/.test(message)) {
    return {
      kind: "fatal",
      code: "invalid_client",
      explanation:
        `the authority refused the application's client secret${ids}: it is wrong or has expired. ` +
        (variable === undefined
          ? "Check the credential DefaultAzureCredential found."
          : `Check the value in ${variable} (the secret's value, not its id).`),
    };
  }
  if (entraError === "unauthorized_client" || /AADSTS700016/.test(message)) {
    return {
      kind: "fatal",
      code: "unauthorized_client",
      explanation: `the authority knows no application with this client id in the tenant${ids}; check "auth.clientId" and "auth.tenantId".`,
    };
  }
  if (/endpoints_resolution_error|AADSTS90002|invalid_tenant/.test(message)) {
    return {
      kind: "fatal",
      code: "invalid_tenant",
      explanation: `the authority has no such tenant, or cannot be reached to say${ids}; check "auth.tenantId" and "auth.authorityHost".`,
    };
  }
  if (mentionsNetworkCode(message)) {
    return {
      kind: "retryable",
      code: "AuthorityUnreachable",
      explanation: "the authority that issues tokens did not answer; it may be unreachable for now.",
    };
  }
  if (name === "CredentialUnavailableError" || name === "AggregateAuthenticationError") {
    return {
      kind: "fatal",
      code: name,
      explanation:
        "DefaultAzureCredential found no usable credential: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, " +
        "or run where a workload or managed identity is available, or log in with `az login`; or configure " +
        `auth.method client-secret. It said: ${message}`,
    };
  }
  return { kind: "fatal", code: entraError ?? name, explanation: `getting a token failed: ${message}` };
}
