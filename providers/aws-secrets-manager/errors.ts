/**
 * What an AWS SDK error means for a run: retry it, stop the run, or ask a person. The SDK raises service
 * exceptions (`name` is the AWS error code, `$fault` says whose fault, `$metadata.httpStatusCode`), plain Node
 * errors for the network (`code` ECONNREFUSED, ...), and its own errors for credentials and timeouts.
 */
import type { StoreErrorKind } from "../errors.js";
import { shellQuote } from "../toolkit.js";

export interface AwsFailure {
  kind: StoreErrorKind;
  /** The AWS error code or Node error code, for the message. */
  code: string;
  /** What it means and what to do, in the user's terms. */
  explanation: string;
}

/** Where the call went: named in explanations so the user sees which secret and region are meant. */
export interface AwsTarget {
  secretId: string;
  region: string;
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ProvisionedThroughputExceededException",
]);

/** The request never got an answer, or the connection broke: the next attempt may well work. */
const NETWORK = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const CREDENTIALS = new Set([
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "MissingAuthenticationToken",
  "ExpiredToken",
  "ExpiredTokenException",
  "CredentialsProviderError",
]);

interface ErrorFields {
  name: string | undefined;
  code: string | undefined;
  message: string;
  fault: string | undefined;
  status: number | undefined;
}

/**
 * What an error said, safe to show: its first line, with any security token value blanked. AWS answers a request
 * signed with a wrong key (InvalidSignatureException, SignatureDoesNotMatch) with the canonical request it
 * expected on the following lines, quoting every signed header's value, `x-amz-security-token` (the session token)
 * among them.
 */
export function safeMessage(message: string): string {
  const firstLine = message.split(/\r?\n/, 1)[0] ?? "";
  return firstLine.replace(/(x-amz-security-token\s*[:=]\s*)[^\s&'"]+/gi, "$1<withheld>").trim();
}

function fieldsOf(error: unknown): ErrorFields {
  const record = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {};
  const metadata = record.$metadata as { httpStatusCode?: unknown } | undefined;
  const str = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  return {
    name: str(record.name),
    code: str(record.code),
    message: safeMessage(error instanceof Error ? error.message : String(error)),
    fault: str(record.$fault),
    status: typeof metadata?.httpStatusCode === "number" ? metadata.httpStatusCode : undefined,
  };
}

/**
 * The SDK could not parse a response. Its message quotes the body, and a GetSecretValue body holds the secret,
 * so such an error must never reach a message or a `cause` as it is.
 */
export function isDeserializationError(error: unknown): boolean {
  const { name } = fieldsOf(error);
  // The SDK appends its hint on a line of its own: look at the whole message, not the first line.
  const message = error instanceof Error ? error.message : String(error);
  return name === "SyntaxError" || message.includes("Deserialization error");
}

/**
 * What an SDK error said, as a `cause` that holds nothing else. The SDK's own errors must never be passed on: a
 * service exception keeps the HTTP response (`$response`), and through its body stream the request, whose headers
 * carry the session token (X-Amz-Security-Token) and whose body, for PutSecretValue, the secret value. Anything
 * that logs or inspects the error in depth would print them.
 */
export class AwsErrorSummary extends Error {
  override readonly name: string;
  /** A Node error code (ECONNRESET, ...) when no answer came back. */
  readonly code: string | undefined;
  /** "client" or "server" for an error AWS sent. */
  readonly fault: string | undefined;
  readonly httpStatusCode: number | undefined;
  /** AWS's request id, for a support case. */
  readonly requestId: string | undefined;

  constructor(error: unknown) {
    const { name, code, message, fault, status } = fieldsOf(error);
    // A response body the SDK could not parse may be a GetSecretValue answer, and its message quotes the body.
    super(
      isDeserializationError(error)
        ? `${name ?? "Error"} while parsing a response (HTTP ${status ?? "?"}); the body is withheld`
        : message,
    );
    this.name = name ?? "Error";
    this.code = code;
    this.fault = fault;
    this.httpStatusCode = status;
    const metadata =
      typeof error === "object" && error !== null ? (error as { $metadata?: unknown }).$metadata : undefined;
    const requestId = (metadata as { requestId?: unknown } | undefined)?.requestId;
    this.requestId = typeof requestId === "string" ? requestId : undefined;
  }
}

/** The error to attach as `cause`: a summary of the SDK's (see AwsErrorSummary), never the SDK's own. */
export function safeCause(error: unknown): AwsErrorSummary {
  return new AwsErrorSummary(error);
}

export function classifyAwsError(error: unknown, target: AwsTarget): AwsFailure {
  const { name, code: nodeCode, message, fault, status } = fieldsOf(error);
  const { secretId, region } = target;
  // A Node network error keeps `name` "Error" (or the SDK's "TimeoutError") and says what happened in `code`.
  const code = nodeCode !== undefined && !isServiceException(error) ? nodeCode : (name ?? "Error");
  const said = isServiceException(error) && message !== "" ? ` AWS said: ${message}` : "";

  if (THROTTLING.has(code) || THROTTLING.has(name ?? "") || status === 429) {
    return {
      kind: "retryable",
      code,
      explanation: "Secrets Manager is throttling requests; trying again later may work.",
    };
  }
  if (NETWORK.has(code) || NETWORK.has(name ?? "")) {
    return {
      kind: "retryable",
      code,
      explanation: `no answer from Secrets Manager in ${region} (${code}); it may be unreachable for now.`,
    };
  }
  if (fault === "server" || (status !== undefined && status >= 500)) {
    return {
      kind: "retryable",
      code,
      explanation: `Secrets Manager failed on its side (HTTP ${status ?? "5xx"}); trying again may work.`,
    };
  }
  if (code === "ENOTFOUND") {
    return {
      kind: "fatal",
      code,
      explanation: `cannot resolve the Secrets Manager endpoint for region ${region}; check "region" and "endpoint".`,
    };
  }
  if (CREDENTIALS.has(code)) {
    return {
      kind: "fatal",
      code,
      explanation:
        "AWS did not accept the credentials, or none were found. Rotator uses the AWS SDK's default chain " +
        "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, an instance or task role)." +
        said,
    };
  }
  if (/region is missing/i.test(message)) {
    return {
      kind: "fatal",
      code,
      explanation:
        'no AWS region is configured: set "region" on the store (or use the secret\'s ARN), or AWS_REGION (the AWS SDK for JavaScript does not read AWS_DEFAULT_REGION).',
    };
  }
  switch (code) {
    case "AccessDeniedException":
      return {
        kind: "fatal",
        code,
        explanation:
          "access denied. Rotator needs secretsmanager:DescribeSecret, secretsmanager:GetSecretValue, " +
          "secretsmanager:PutSecretValue and secretsmanager:UpdateSecretVersionStage on this secret (and " +
          `kms:Decrypt / kms:GenerateDataKey on its KMS key if it is a customer-managed one).${said}`,
      };
    case "ResourceNotFoundException":
      return {
        kind: "fatal",
        code,
        explanation:
          `secret ${secretId} does not exist in region ${region}. Create it first` +
          (secretId.startsWith("arn:")
            ? ""
            : ` (aws secretsmanager create-secret --region ${region} --name ${shellQuote(secretId)} ` +
              "--secret-string '{}')") +
          ', or fix "secretId" or "region".',
      };
    case "DecryptionFailure":
      return {
        kind: "fatal",
        code,
        explanation:
          "Secrets Manager cannot decrypt the secret with its KMS key: the caller needs kms:Decrypt on that key." +
          said,
      };
    case "EncryptionFailure":
      return {
        kind: "fatal",
        code,
        explanation:
          "Secrets Manager cannot encrypt the new value with the secret's KMS key: the caller needs " +
          `kms:GenerateDataKey on that key, and the key must be enabled.${said}`,
      };
    case "InvalidRequestException":
      return {
        kind: "fatal",
        code,
        explanation:
          "Secrets Manager refused the request in the secret's present state (is it scheduled for " +
          `deletion?).${said}`,
      };
    case "LimitExceededException":
      return { kind: "fatal", code, explanation: `a Secrets Manager quota was reached.${said}` };
    default:
      return { kind: "fatal", code, explanation: `Secrets Manager returned ${code}.${said}` };
  }
}

/** An error the service sent (as opposed to one raised on the way to it). */
function isServiceException(error: unknown): boolean {
  const { fault } = fieldsOf(error);
  return fault === "client" || fault === "server";
}
