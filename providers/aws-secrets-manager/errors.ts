/**
 * What an AWS SDK error means for a run: retry it, stop the run, or ask a person. The SDK raises service
 * exceptions (`name` is the AWS error code, `$fault` says whose fault, `$metadata.httpStatusCode`), plain Node
 * errors for the network (`code` ECONNREFUSED, ...), and its own errors for credentials and timeouts.
 */
import { failureKind } from "../error-kit/classify.js";
import { isNetworkCode, isTimeoutName } from "../error-kit/network.js";
import { nonEmpty, property, SafeCause } from "../error-kit/safe-cause.js";
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

/** AWS's own words for "slow down": a 400 of the service that is passing, as a 429 is. */
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
  const status = property(property(error, "$metadata"), "httpStatusCode");
  return {
    name: nonEmpty(property(error, "name")),
    code: nonEmpty(property(error, "code")),
    message: safeMessage(error instanceof Error ? error.message : String(error)),
    fault: nonEmpty(property(error, "$fault")),
    status: typeof status === "number" ? status : undefined,
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
export class AwsErrorSummary extends SafeCause {
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
    this.requestId = nonEmpty(property(property(error, "$metadata"), "requestId"));
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

  const throttled = THROTTLING.has(code) || THROTTLING.has(name ?? "") || status === 429;
  const unanswered = isNetworkCode(code) || isTimeoutName(code) || isTimeoutName(name);
  const passing = throttled || unanswered || fault === "server";
  if (failureKind({ status, code: nodeCode, name, passing }) === "retryable") {
    return {
      kind: "retryable",
      code,
      explanation: throttled
        ? "Secrets Manager is throttling requests; trying again later may work."
        : unanswered
          ? `no answer from Secrets Manager in ${region} (${code}); it may be unreachable for now.`
          : `Secrets Manager failed on its side (HTTP ${status ?? "5xx"}); trying again may work.`,
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
