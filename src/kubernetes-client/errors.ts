/**
 * What went wrong with a request to the API server, in words for people, from what the client throws: an
 * ApiException (HTTP status and the server's Status object), a deadline, or a connection that failed. Never the
 * exception's own message: it carries the whole response body, and a response about a Secret may be the Secret.
 */
import { failureKind } from "../../providers/error-kit/classify.js";
import { isTimeoutName, isTlsCode } from "../../providers/error-kit/network.js";
import { firstLine } from "../../providers/error-kit/safe-cause.js";

export interface ApiFailure {
  /** The HTTP status, when the server answered. */
  status: number | undefined;
  /** The Status object's reason (Conflict, NotFound, Forbidden, AlreadyExists, Invalid, ...). */
  reason: string | undefined;
  /** One line: what the server said, or why it did not answer. */
  detail: string;
  /** `retryable` for no answer, a deadline, 429 or 5xx (error-kit/classify.ts); else `fatal`. */
  kind: "retryable" | "fatal";
}

export function apiFailure(error: unknown): ApiFailure {
  const status = (error as { code?: unknown }).code;
  if (typeof status === "number") {
    const body = statusBody((error as { body?: unknown }).body);
    const reason = body?.reason ?? (status === 401 ? "Unauthorized" : undefined);
    const said = body?.message ?? (status === 401 ? "the credential was not accepted" : "no explanation given");
    return {
      status,
      reason,
      detail: `HTTP ${status}${reason === undefined ? "" : ` ${reason}`}: ${said}`,
      kind: failureKind({ status }),
    };
  }
  const name = (error as { name?: unknown }).name;
  if (typeof name === "string" && isTimeoutName(name)) {
    return { status: undefined, reason: undefined, detail: "no answer within the deadline", kind: "retryable" };
  }
  const code = (error as { code?: unknown; errno?: unknown }).code ?? (error as { errno?: unknown }).errno;
  if (typeof code === "string" && isTlsCode(code)) {
    return {
      status: undefined,
      reason: undefined,
      detail: `the API server's TLS certificate was not accepted (${code}): check the CA (caFile, or certificate-authority in the kubeconfig)`,
      kind: "fatal",
    };
  }
  if (typeof code === "string") {
    return {
      status: undefined,
      reason: undefined,
      detail: `unreachable (${code})`,
      kind: failureKind({ code }),
    };
  }
  return {
    status: undefined,
    reason: undefined,
    detail: error instanceof Error ? `${error.name}: ${firstLine(error.message)}` : "unknown error",
    kind: "fatal",
  };
}

function statusBody(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  // Only a Status object is a message from the server; anything else may be an object, and may hold data.
  if (record.kind !== "Status") return undefined;
  return {
    ...(typeof record.reason === "string" && record.reason !== "" ? { reason: record.reason } : {}),
    ...(typeof record.message === "string" && record.message !== "" ? { message: firstLine(record.message) } : {}),
  };
}

export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === 404;
}

export function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === 409;
}
