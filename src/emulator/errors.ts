/**
 * Twilio's error responses. Every error body has the same shape,
 * `{"code","message","more_info","status"}`, and a 401 always carries `WWW-Authenticate`.
 */

export class TwilioError extends Error {
  override readonly name = "TwilioError";
  readonly status: number;
  readonly code: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  body(): { code: number; message: string; more_info: string; status: number } {
    return {
      code: this.code,
      message: this.message,
      more_info: `https://www.twilio.com/docs/errors/${this.code}`,
      status: this.status,
    };
  }
}

/** 20003: bad or missing credentials, a deleted key, a promoted-away token, or a credential not allowed here. */
export function authenticate(): TwilioError {
  return new TwilioError(401, 20003, "Authenticate", { "WWW-Authenticate": 'Basic realm="Twilio API"' });
}

export function notFound(path: string): TwilioError {
  return new TwilioError(404, 20404, `The requested resource ${path} was not found`);
}

export function methodNotAllowed(allowed: readonly string[], note = ""): TwilioError {
  return new TwilioError(405, 20004, `Method not allowed${note}`, { Allow: allowed.join(", ") });
}

/** 20001 is what Twilio's v1 APIs answer for a missing or malformed parameter. */
export function badParameter(message: string): TwilioError {
  return new TwilioError(400, 20001, message);
}

export function missingParameter(name: string, where: "post body" | "query string"): TwilioError {
  return badParameter(`Missing required parameter ${name} in the ${where}`);
}

/** 20002: FriendlyName must be 1 to 64 characters. */
export function invalidFriendlyName(): TwilioError {
  return new TwilioError(400, 20002, "Invalid FriendlyName");
}

/** 20007: PageSize above 1000. */
export function pageSizeTooLarge(): TwilioError {
  return new TwilioError(400, 20007, "Page size too large");
}

export function tooManyRequests(retryAfterSeconds: number | undefined): TwilioError {
  const headers: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { "Retry-After": String(retryAfterSeconds) };
  return new TwilioError(429, 20429, "Too Many Requests", headers);
}

const SERVER_ERRORS: Record<number, { code: number; message: string }> = {
  500: { code: 20500, message: "Internal Server Error" },
  502: { code: 20500, message: "Bad Gateway" },
  503: { code: 20503, message: "Service Unavailable" },
};

export function serverError(status: 500 | 502 | 503, code?: number, message?: string): TwilioError {
  const fallback = SERVER_ERRORS[status] ?? { code: 20500, message: "Internal Server Error" };
  return new TwilioError(status, code ?? fallback.code, message ?? fallback.message);
}

/**
 * 20008: test credentials on a resource they cannot reach. Twilio documents a 403 for "requests to any other
 * resource with test credentials" (https://www.twilio.com/docs/iam/test-credentials, error page
 * https://www.twilio.com/docs/errors/20008); the message is the one Twilio's API sends.
 */
export function testCredentialsForbidden(): TwilioError {
  return new TwilioError(403, 20008, "Resource not accessible with Test Account Credentials");
}

/**
 * 20005 "Account not active" (https://www.twilio.com/docs/api/errors/20005). Twilio's list of 20003 causes
 * also names "Account is suspended or closed", so the emulator answers 20003 by default and this only when
 * the `inactiveAccount` behaviour asks for it; the HTTP status Twilio pairs with 20005 is undocumented.
 */
export function accountNotActive(): TwilioError {
  return new TwilioError(403, 20005, "Account not active");
}
