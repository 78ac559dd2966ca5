/**
 * The secret scan: the made-up credentials of one test, and the checks that none of their secrets (or the
 * harness's own) appears in anything a provider hands back: versions, notes, restore points, errors with all
 * they hold. `secretFreeRejection` is the same check for a provider's own tests.
 */
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { expect } from "vitest";
import type { RestorePoint, StoredCredential, UndoContext } from "../../providers/contract.js";
import { StoreError, type StoreErrorKind } from "../../providers/errors.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import { credentialId } from "../../src/credentials/stored.js";
import type { ContractStore } from "./types.js";

/**
 * Await a rejection that must be a StoreError (of `kind`, if given) holding none of `secrets`: not in its message,
 * nor anywhere in what it carries (its cause chain, an SDK's request and response, hidden properties), as a log
 * line or a debugger would show it. Fails the test otherwise, without ever printing a secret.
 */
export async function secretFreeRejection(
  promise: Promise<unknown>,
  secrets: readonly string[],
  kind?: StoreErrorKind,
): Promise<StoreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  scanErrorFor(secrets, caught);
  if (!(caught instanceof StoreError)) {
    throw new Error(`expected a StoreError, got ${caught === undefined ? "success" : describeError(caught)}`);
  }
  if (kind !== undefined) expect(caught.kind, caught.message).toBe(kind);
  return caught;
}

/**
 * As a log line shows it, and everything it holds: hidden properties, the whole cause chain, an SDK error's request,
 * response and headers, an HTTP client's config. A debugger or an error reporter sees all of it.
 */
function scanErrorFor(secrets: readonly string[], error: unknown): void {
  scanText(secrets, describeError(error), "the error's message or cause");
  scanText(secrets, inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }), "the error, inspected");
}

/** Fail if any secret appears in `text`; on a leak, show where it is (the text around it, never the secret). */
function scanText(secrets: readonly string[], text: string, what: string): void {
  for (const secret of secrets) {
    const at = text.indexOf(secret);
    const leak =
      at < 0
        ? undefined
        : `${text.slice(Math.max(0, at - 300), at)}<SECRET>${text.slice(at + secret.length, at + secret.length + 100)}`;
    expect(leak, `${what} contains a secret value`).toBeUndefined();
  }
}

/** The made-up credentials of one test, and the checks that none of their secrets (or the harness's) leaks. */
export class ContractRun {
  readonly ctx = { runId: `contract-${randomBytes(6).toString("hex")}` };
  /** The credential type (`credential.type`) the test writes. */
  readonly #kind: string;
  readonly #accountSid = `AC${randomBytes(16).toString("hex")}`;
  readonly #secrets: string[] = [];
  #store: Pick<ContractStore, "secrets"> | undefined;

  constructor(kind: string) {
    this.#kind = kind;
  }

  /**
   * A new credential of the test's type, on the test's account: every field its definition lists made up, the
   * secret ones as long as Twilio's secrets (and remembered for the scan), the others shaped like a SID.
   */
  credential(): StoredCredential {
    const fields: Record<string, string> = {};
    for (const field of credentialTypeOf(this.#kind).fields) {
      if (field.key === "accountSid") continue;
      const value = field.secret ? madeUpSecret() : `SK${randomBytes(16).toString("hex")}`;
      if (field.secret) this.#secrets.push(value);
      fields[field.key] = value;
    }
    return { ...fields, kind: this.#kind, accountSid: this.#accountSid };
  }

  /** The context of rollback and release for a run that wrote `next` (the whole credential, as the engine passes it). */
  withKey(next: StoredCredential): UndoContext {
    return { ...this.ctx, newKeyId: credentialId(next), written: next };
  }

  /** Also look out for the store's own secrets, read afresh at every scan. */
  watch(store: Pick<ContractStore, "secrets">): void {
    this.#store = store;
  }

  /** Fail if any secret appears in `value` (a string as it is, anything else as JSON); returns `value`. */
  scan<T>(value: T, what: string): T {
    this.#scanText(typeof value === "string" ? value : (JSON.stringify(value) ?? ""), what);
    return value;
  }

  /** The restore point as `resume` would get it back from the journal, checked to be secret-free JSON. */
  journal(restorePoint: RestorePoint): RestorePoint {
    this.scan(restorePoint, "restore point");
    const journaled: RestorePoint = JSON.parse(JSON.stringify(restorePoint));
    expect(journaled).toEqual(restorePoint);
    return journaled;
  }

  /** Await a rejection that must be a secret-free StoreError (of `kind`, if given). */
  rejects(promise: Promise<unknown>, kind?: StoreErrorKind): Promise<StoreError> {
    return secretFreeRejection(promise, this.#watched(), kind);
  }

  #scanText(text: string, what: string): void {
    scanText(this.#watched(), text, what);
  }

  /** The test's made-up secrets and the harness's own, read afresh (a harness may learn one late). */
  #watched(): string[] {
    const theirs = this.#store?.secrets ?? [];
    for (const secret of theirs) {
      expect(secret.length, "a harness secret shorter than 8 characters would match by chance").toBeGreaterThanOrEqual(
        8,
      );
    }
    return [...this.#secrets, ...theirs];
  }
}

/** The message and the whole `cause` chain, as a person or a log would see them. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    parts.push(String(current));
    if (current instanceof Error) parts.push(current.message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}

/** 32 letters and digits, like a key's secret. */
function madeUpSecret(): string {
  return randomBytes(24)
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "x")
    .slice(0, 32);
}
