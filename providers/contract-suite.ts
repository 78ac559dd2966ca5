/**
 * The contract every store provider keeps, as one test suite each provider's test runs against its real store
 * (a temp directory, a local server). The suite owns the cases; a harness owns how to make, inspect and break
 * one isolated store. Shaped after unstorage's `testDriver` and keyv's test-suite.
 *
 *     runProviderContract("dotenv-file", { create: async (initial, kind) => ({ provider, raw, ... }) });
 *
 * Every restore point is passed through JSON before it is used, as the journal would, and every error, version
 * and restore point is scanned for the secrets the test made up.
 *
 * Test-only: it imports vitest, and tsconfig.build.json keeps it out of the build.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type CredentialKind,
  credentialId,
  type RestorePoint,
  type StoredCredential,
  type StoreProvider,
} from "./contract.js";
import { StoreError, type StoreErrorKind } from "./errors.js";

/** One isolated store made for one test. */
export interface ContractStore {
  /** The provider under test, configured for this store and for the kind the store was created with. */
  provider: StoreProvider;
  /** Another provider for the same store, built from the same config, as `rotator resume` would after a crash. */
  reopen(): StoreProvider;
  /** The store's content read without the provider, in a form `toEqual` compares exactly (bytes for a file). */
  raw(): Promise<unknown>;
  /**
   * Everything the store holds besides the credential's fields (other keys, other lines, comments), in a form
   * `toEqual` compares. The harness seeds some, so the suite can check that a write keeps them.
   */
  others(): Promise<unknown>;
  /** Someone else (an operator, another tool) puts this credential in the store. */
  externalWrite(credential: StoredCredential): Promise<void>;
  /** Make writes fail the way an outage would (unwritable, unreachable); returns the undo. Omit if impossible. */
  breakStore?(): Promise<() => Promise<void>>;
  /** Remove the store. Called after every test, also a failed one. */
  cleanup(): Promise<void>;
}

export interface ContractHarness {
  /** A fresh store at a fresh location, holding `initial` (and the harness's other content), or no credential. */
  create(initial: StoredCredential | undefined, kind: CredentialKind): Promise<ContractStore>;
}

export interface ContractOptions {
  /** Credential kinds to run the suite for; default both. */
  kinds?: readonly CredentialKind[];
  /** Per-test timeout in milliseconds, for stores behind a network. */
  timeout?: number;
}

/** Declare the contract's tests for one provider. Call it at the top level of a test file. */
export function runProviderContract(name: string, harness: ContractHarness, options: ContractOptions = {}): void {
  const kinds = options.kinds ?? ["api-key", "auth-token"];
  const timeout = options.timeout;

  describe(`${name}: store provider contract`, () => {
    for (const kind of kinds) {
      describe(kind, () => {
        /** A store seeded with an old credential (or none), and the made-up secrets to look out for. */
        async function setup(seed: "seeded" | "empty") {
          const test = new ContractRun(kind);
          const old = test.credential();
          const store = await harness.create(seed === "seeded" ? old : undefined, kind);
          onTestFinished(() => store.cleanup());
          const { provider } = store;
          test.scan(provider.describe(), "describe()");
          return { test, old, store, provider };
        }

        it(
          "preflight reports the seeded credential and a version",
          async () => {
            const { test, old, provider } = await setup("seeded");
            const { snapshot, notes } = await provider.preflight();
            expect(snapshot.credential).toEqual(old);
            expect(typeof snapshot.version).toBe("string");
            expect(snapshot.version).not.toBe("");
            test.scan(snapshot.version, "version");
            test.scan(notes, "preflight notes");
            for (const note of notes) expect(typeof note).toBe("string");
          },
          timeout,
        );

        it(
          "preflight of a store without a credential reports none",
          async () => {
            const { test, provider } = await setup("empty");
            const { snapshot, notes } = await provider.preflight();
            expect(snapshot.credential).toBeUndefined();
            test.scan(snapshot.version, "version");
            test.scan(notes, "preflight notes");
          },
          timeout,
        );

        it(
          "read agrees with preflight, and the version is stable while nothing changes",
          async () => {
            const { old, provider } = await setup("seeded");
            const { snapshot } = await provider.preflight();
            expect(await provider.read()).toEqual(snapshot);
            expect(await provider.read()).toEqual({ credential: old, version: snapshot.version });
          },
          timeout,
        );

        it(
          "prepare changes nothing readers see and returns a journal-safe restore point",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            expect(await store.raw()).toEqual(before);
            expect(await provider.read()).toEqual(snapshot);
            await provider.release(restorePoint, test.ctx);
          },
          timeout,
        );

        it(
          "write makes the new credential current and keeps everything else",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const others = await store.others();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            const version = test.scan(await provider.write(next, restorePoint, test.ctx), "version");

            const after = await provider.read();
            expect(after.credential).toEqual(next);
            expect(after.version).not.toEqual(snapshot.version);
            if (version !== undefined) expect(after.version).toBe(version);
            test.scan(after.version, "version");
            expect(await store.others()).toEqual(others);
            await provider.release(restorePoint, test.ctx);
            expect((await provider.read()).credential).toEqual(next);
          },
          timeout,
        );

        it(
          "write into a store without a credential, then rollback, leaves it as it was",
          async () => {
            const { test, store, provider } = await setup("empty");
            const before = await store.raw();
            const others = await store.others();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            expect((await provider.read()).credential).toEqual(next);
            expect(await store.others()).toEqual(others);

            await provider.rollback(restorePoint, test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toBeUndefined();
            await provider.release(restorePoint, test.ctx);
          },
          timeout,
        );

        it(
          "write is idempotent for the same run and value",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            const first = await provider.write(next, restorePoint, test.ctx);
            const rawAfterFirst = await store.raw();
            const readAfterFirst = await provider.read();

            const second = await provider.write(next, restorePoint, test.ctx);
            expect(second).toEqual(first);
            expect(await store.raw()).toEqual(rawAfterFirst);
            expect(await provider.read()).toEqual(readAfterFirst);
          },
          timeout,
        );

        it(
          "rollback after write restores the store exactly",
          async () => {
            const { test, old, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            expect(await store.raw()).not.toEqual(before);

            await provider.rollback(restorePoint, test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);
            await provider.release(restorePoint, test.ctx);
            expect(await store.raw()).toEqual(before);
          },
          timeout,
        );

        it(
          "rollback when write never ran changes nothing",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));

            await provider.rollback(restorePoint, test.rollbackCtx(test.credential()));
            expect(await store.raw()).toEqual(before);
            expect(await provider.read()).toEqual(snapshot);
          },
          timeout,
        );

        it(
          "rollback is idempotent",
          async () => {
            const { test, old, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);

            await provider.rollback(restorePoint, test.rollbackCtx(next));
            await provider.rollback(restorePoint, test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);
          },
          timeout,
        );

        it(
          "a fresh provider rolls back from the journaled restore point alone (crash after write)",
          async () => {
            const { test, old, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            await provider.close?.();

            const resumed = store.reopen();
            await resumed.rollback(test.journal(restorePoint), test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
            expect((await resumed.read()).credential).toEqual(old);
            await resumed.release(restorePoint, test.ctx);
            await resumed.close?.();
          },
          timeout,
        );

        it(
          "a fresh provider's rollback after a crash between prepare and write changes nothing",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.close?.();

            const resumed = store.reopen();
            await resumed.rollback(restorePoint, test.rollbackCtx(test.credential()));
            expect(await store.raw()).toEqual(before);
            await resumed.release(restorePoint, test.ctx);
            await resumed.close?.();
          },
          timeout,
        );

        it(
          "release after completion keeps the new credential and is idempotent",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            const written = await store.raw();

            await provider.release(restorePoint, test.ctx);
            await provider.release(restorePoint, test.ctx);
            expect(await store.raw()).toEqual(written);
            expect((await provider.read()).credential).toEqual(next);
          },
          timeout,
        );

        it(
          "release after rollback keeps the old credential",
          async () => {
            const { test, old, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            await provider.rollback(restorePoint, test.rollbackCtx(next));

            await provider.release(restorePoint, test.ctx);
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);
          },
          timeout,
        );

        it(
          "rollback refuses to overwrite a value someone else wrote after ours",
          async () => {
            const { test, store, provider } = await setup("seeded");
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            const theirs = test.credential();
            await store.externalWrite(theirs);
            const external = await store.raw();

            const error = await test.rejects(provider.rollback(restorePoint, test.rollbackCtx(next)), "needs-operator");
            expect(error.store).toBe(provider.name);
            expect(await store.raw()).toEqual(external);
            expect((await provider.read()).credential).toEqual(theirs);
          },
          timeout,
        );

        it(
          "check-and-set: a change between preflight and write is refused, not overwritten",
          async ({ skip }) => {
            const { test, store, provider } = await setup("seeded");
            if (!provider.capabilities.checkAndSet) skip("the provider does not declare checkAndSet");
            const { snapshot } = await provider.preflight();
            await store.externalWrite(test.credential());
            const external = await store.raw();
            const next = test.credential();

            const prepareThenWrite = async () => {
              const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
              await provider.write(next, restorePoint, test.ctx);
            };
            const error = await test.rejects(prepareThenWrite(), "needs-operator");
            expect(error.store).toBe(provider.name);
            expect(await store.raw()).toEqual(external);
          },
          timeout,
        );

        it(
          "check-and-set: a change between prepare and write is refused, not overwritten",
          async ({ skip }) => {
            const { test, store, provider } = await setup("seeded");
            if (!provider.capabilities.checkAndSet) skip("the provider does not declare checkAndSet");
            const { snapshot } = await provider.preflight();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await store.externalWrite(test.credential());
            const external = await store.raw();

            const error = await test.rejects(
              provider.write(test.credential(), restorePoint, test.ctx),
              "needs-operator",
            );
            expect(error.store).toBe(provider.name);
            expect(await store.raw()).toEqual(external);
          },
          timeout,
        );

        it(
          "a broken store fails the write with a StoreError naming it, and is left unchanged",
          async ({ skip }) => {
            const { test, old, store, provider } = await setup("seeded");
            if (store.breakStore === undefined) skip("the harness cannot break this store");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));

            const repair = await store.breakStore!();
            let error: StoreError;
            try {
              error = await test.rejects(provider.write(next, restorePoint, test.ctx));
            } finally {
              await repair();
            }
            expect(error.store).toBe(provider.name);
            expect(error.message).toContain(`"${provider.name}"`);
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);

            // Nothing the failed attempt left behind stands in the way of undoing or retrying.
            await provider.rollback(restorePoint, test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
            await provider.write(next, restorePoint, test.ctx);
            expect((await provider.read()).credential).toEqual(next);
            await provider.rollback(restorePoint, test.rollbackCtx(next));
            expect(await store.raw()).toEqual(before);
          },
          timeout,
        );
      });
    }
  });
}

/**
 * Make a directory refuse new entries, also for root: root ignores permission bits, so as root this sets the
 * immutable attribute (`chattr +i`, needs CAP_LINUX_IMMUTABLE and a file system that supports it, such as
 * ext4, xfs, btrfs); otherwise it removes the write bits. Creating, renaming or deleting a file in it then
 * fails (EPERM or EACCES), which is how a read-only directory breaks an atomic replace. Checks that it worked
 * and returns the undo.
 */
export async function makeDirectoryUnwritable(directory: string): Promise<() => Promise<void>> {
  let undo: () => Promise<void>;
  if (process.getuid?.() === 0) {
    await run("chattr", ["+i", directory]);
    undo = () => run("chattr", ["-i", directory]);
  } else {
    const { mode } = await stat(directory);
    await chmod(directory, 0o500);
    undo = () => chmod(directory, mode & 0o7777);
  }
  const probe = join(directory, `.unwritable-probe-${randomBytes(4).toString("hex")}`);
  try {
    await (await open(probe, "wx")).close();
  } catch {
    return undo;
  }
  await rm(probe, { force: true });
  await undo();
  throw new Error(`could not make ${directory} unwritable on this system`);
}

async function run(command: string, args: string[]): Promise<void> {
  await promisify(execFile)(command, args);
}

/** The made-up credentials of one test, and the checks that none of their secrets leaks. */
class ContractRun {
  readonly ctx = { runId: `contract-${randomBytes(6).toString("hex")}` };
  readonly #kind: CredentialKind;
  readonly #accountSid = `AC${randomBytes(16).toString("hex")}`;
  readonly #secrets: string[] = [];

  constructor(kind: CredentialKind) {
    this.#kind = kind;
  }

  /** A new credential of the test's kind, on the test's account, shaped like Twilio's. */
  credential(): StoredCredential {
    if (this.#kind === "api-key") {
      const apiKeySecret = randomBytes(24)
        .toString("base64")
        .replace(/[^A-Za-z0-9]/g, "x")
        .slice(0, 32);
      this.#secrets.push(apiKeySecret);
      return {
        kind: "api-key",
        accountSid: this.#accountSid,
        apiKeySid: `SK${randomBytes(16).toString("hex")}`,
        apiKeySecret,
      };
    }
    const authToken = randomBytes(16).toString("hex");
    this.#secrets.push(authToken);
    return { kind: "auth-token", accountSid: this.#accountSid, authToken };
  }

  rollbackCtx(next: StoredCredential) {
    return { ...this.ctx, newKeyId: credentialId(next) };
  }

  /** Fail if any secret of this test appears in `value` (serialised as JSON); returns `value`. */
  scan<T>(value: T, what: string): T {
    const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
    for (const secret of this.#secrets) {
      expect(text.includes(secret), `${what} contains a secret value`).toBe(false);
    }
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
  async rejects(promise: Promise<unknown>, kind?: StoreErrorKind): Promise<StoreError> {
    let caught: unknown;
    try {
      await promise;
    } catch (error) {
      caught = error;
    }
    this.scan(describeError(caught), "error message or cause");
    if (!(caught instanceof StoreError)) {
      throw new Error(`expected a StoreError, got ${caught === undefined ? "success" : describeError(caught)}`);
    }
    if (kind !== undefined) expect(caught.kind, caught.message).toBe(kind);
    return caught;
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
