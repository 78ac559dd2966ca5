/**
 * Errors the engine acts on. Every message names the store (its config name) and the identifier the user
 * gave (file path, secret id), says what to do, and never contains a secret value; the underlying error is
 * attached as `cause` so nothing is hidden from a debugger.
 */

/**
 * - `retryable`: a passing fault (throttling, 5xx, a dropped connection); retrying the same call may work.
 * - `fatal`: this run cannot go on (permission denied, not found, bad value); roll back.
 * - `needs-operator`: rotator cannot decide safely (someone else changed the store); stop and explain.
 */
export type StoreErrorKind = "retryable" | "fatal" | "needs-operator";

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly kind: StoreErrorKind;
  readonly store: string;

  constructor(kind: StoreErrorKind, store: string, message: string, options?: { cause?: unknown }) {
    super(`store "${store}": ${message}`, options);
    this.kind = kind;
    this.store = store;
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}

/**
 * A store type's SDK is not installed. rotator declares each store's SDK an optional peer dependency, so an app
 * or host installs only the SDKs of the stores it uses; the message names the package to install.
 */
export class MissingPackageError extends Error {
  override readonly name = "MissingPackageError";

  constructor(
    readonly store: string,
    readonly storeType: string,
    readonly packageName: string,
    options?: { cause?: unknown },
  ) {
    super(
      `store "${store}" is of type ${storeType}, which needs the package ${packageName}: it is not installed`,
      options,
    );
  }
}

/** Whether `error` is Node not finding `packageName` itself (an import or a require), rather than something it needs. */
export function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  return error instanceof Error && error.message.includes(`'${packageName}'`);
}
