/**
 * Key Vault's error responses: the spec's `KeyVaultError`, `{"error":{"code","message","innererror"?}}`.
 * The codes and messages are Key Vault's own where they are documented or widely quoted (README.md says which);
 * none of them ever holds a secret value.
 */

export class KeyVaultError extends Error {
  override readonly name = "KeyVaultError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode === undefined ? {} : { innererror: { code: this.innerCode } }),
      },
    };
  }
}

const NOT_FOUND_HELP =
  "If you recently deleted this secret you may be able to recover it using the correct recovery command. " +
  "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182";

/** 404 for an unknown secret or version, and for a soft-deleted secret (it is gone until recovered). */
export function secretNotFound(nameOrId: string): KeyVaultError {
  return new KeyVaultError(
    404,
    "SecretNotFound",
    `A secret with (name/id) ${nameOrId} was not found in this key vault. ${NOT_FOUND_HELP}`,
  );
}

export function deletedSecretNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, "SecretNotFound", `Deleted Secret not found: ${name}`);
}

export function secretDisabled(operation: string): KeyVaultError {
  return new KeyVaultError(
    403,
    "Forbidden",
    `Operation ${operation} is not allowed on a disabled secret.`,
    "SecretDisabled",
  );
}

/** 409: the name belongs to a soft-deleted secret, which only recover or purge can release. */
export function deletedButRecoverable(name: string): KeyVaultError {
  return new KeyVaultError(
    409,
    "Conflict",
    `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, ` +
      "the secret can only be recovered or purged.",
    "ObjectIsDeletedButRecoverable",
  );
}

export function conflict(message: string, innerCode?: string): KeyVaultError {
  return new KeyVaultError(409, "Conflict", message, innerCode);
}

export function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", message);
}

export function forbiddenManaged(name: string): KeyVaultError {
  return new KeyVaultError(
    403,
    "Forbidden",
    `Secret ${name} is managed by Key Vault (it backs a certificate) and cannot be changed through the secrets API; ` +
      "change the certificate instead.",
    "ForbiddenByPolicy",
  );
}

/** 401 with the challenge the SDK answers by fetching a token from `authority` for `resource`. */
export function unauthorized(message: string, authority: string, resource: string): KeyVaultError {
  return new KeyVaultError(401, "Unauthorized", message, undefined, {
    "WWW-Authenticate": `Bearer authorization="${authority}", resource="${resource}"`,
  });
}

export function notFound(path: string): KeyVaultError {
  return new KeyVaultError(404, "NotFound", `The requested resource ${path} does not exist on this vault.`);
}

export function methodNotAllowed(method: string, path: string, allowed: readonly string[]): KeyVaultError {
  return new KeyVaultError(405, "MethodNotAllowed", `The method ${method} is not allowed on ${path}.`, undefined, {
    Allow: allowed.join(", "),
  });
}

export function throttled(retryAfterSeconds: number): KeyVaultError {
  return new KeyVaultError(
    429,
    "Throttled",
    "Request was not processed because too many requests were received. Reason: Vault transactions exceeded. " +
      `Retry after: ${retryAfterSeconds} seconds.`,
    undefined,
    { "Retry-After": String(retryAfterSeconds) },
  );
}

export function serverError(status: 500 | 502 | 503): KeyVaultError {
  const code = status === 503 ? "ServiceUnavailable" : status === 502 ? "BadGateway" : "InternalServerError";
  return new KeyVaultError(status, code, "The service encountered an error; try the request again.");
}
