/**
 * What a failure without an answer means, the same for every store: the Node (and SDK) codes of a request that got
 * no answer or lost its connection, or of a local resource busy for now, where the next attempt may well work,
 * and the codes of a TLS connection that was refused, where it never will until someone changes a setting.
 */

/** No answer, or the connection broke: passing. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED", // axios (node-vault): the request timed out
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "UND_ERR_SOCKET", // undici
  "REQUEST_SEND_ERROR", // @azure/core-rest-pipeline
]);

/** The names SDKs give a request that ran out of time (the AWS SDK's, fetch's): passing too. */
const TIMEOUT_NAMES: ReadonlySet<string> = new Set([
  "TimeoutError",
  "AbortError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

/** A local resource busy or exhausted for now (a file locked, out of descriptors, a call interrupted): passing. */
const BUSY_CODES: ReadonlySet<string> = new Set(["EAGAIN", "EBUSY", "EINTR", "EMFILE", "ENFILE"]);

const TLS_CODE = /CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_|^EPROTO$|SELF_SIGNED/;

/** A request that got no answer or lost its connection: the same request may work a moment later. */
export function isNetworkCode(code: string | undefined): boolean {
  return code !== undefined && NETWORK_CODES.has(code);
}

/** A local resource (a file, descriptors) busy or exhausted for now: the same call may work a moment later. */
export function isBusyCode(code: string | undefined): boolean {
  return code !== undefined && BUSY_CODES.has(code);
}

/** An error named for a request that ran out of time. */
export function isTimeoutName(name: string | undefined): boolean {
  return name !== undefined && TIMEOUT_NAMES.has(name);
}

/** A TLS connection refused (certificate, protocol): fixed by a setting, never by trying again. */
export function isTlsCode(code: string | undefined): boolean {
  return code !== undefined && TLS_CODE.test(code);
}

/** Whether `text` (an SDK's message that wraps a network error) names one of the network codes. */
export function mentionsNetworkCode(text: string): boolean {
  for (const code of NETWORK_CODES) if (text.includes(code)) return true;
  return false;
}
