/**
 * The contract every store provider keeps, as one test suite each provider's test runs against its real store
 * (a temp directory, a local server). The suite owns the cases; a harness owns how to make, inspect and break
 * one isolated store. Shaped after unstorage's `testDriver` and keyv's test-suite.
 *
 *     runProviderContract("vault-kv2", { create: async (initial, kind) => ({ provider, raw, ... }) }, {
 *       capabilities: { nativeStaging: false, checkAndSet: true, versioned: true },
 *       interceptsWrites: true,
 *     });
 *
 * Which cases apply is decided when the tests are declared, from what the options say, never at run time: a
 * case that does not apply to a provider is not declared at all, and every declared case runs and asserts.
 * One case checks that a fresh provider declares exactly the capabilities the suite was told, so the options
 * cannot claim less (and leave cases out) or more than the provider does. What a harness must offer follows
 * from the options in the types: `versionCount` for a versioned store, `beforeStoreWrite` when
 * `interceptsWrites` is set.
 *
 * Every restore point is passed through JSON before it is used, as the journal would, and every error (with
 * everything it holds: its cause chain, an SDK's request and response objects, hidden properties), version,
 * note and restore point is scanned for the secrets the test made up and the harness's own (tokens, keys).
 * Every provider a test makes is closed when the test ends.
 *
 * Test-only: it imports vitest, and tsconfig.build.json keeps it out of the build.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { inspect, promisify } from "node:util";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type CredentialKind,
  credentialId,
  type ProviderCapabilities,
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
  /**
   * What readers of the store see now, read without the provider, in a form `toEqual` compares exactly. "Undone"
   * and "unchanged" in this suite mean equal `raw()`, so it holds exactly what a rollback promises to restore:
   * - a file: its bytes;
   * - a versioned store: the value readers get, and the labels or stages the provider promises to put back (AWS:
   *   which versions hold AWSCURRENT, AWSPREVIOUS and AWSPENDING). Not the history: a rollback may add a version
   *   (Vault writes the old data back as a new one), which readers do not see. `versionCount` covers history.
   */
  raw(): Promise<unknown>;
  /**
   * Everything the store holds besides the credential's fields (other keys, other lines, comments), in a form
   * `toEqual` compares. The harness seeds some, so the suite can check that a write keeps them.
   */
  others(): Promise<unknown>;
  /** Someone else (an operator, another tool) puts this credential in the store. */
  externalWrite(credential: StoredCredential): Promise<void>;
  /**
   * Make writes fail the way an outage would (unwritable, unreachable, permission withdrawn); returns the undo.
   * Every provider must show that a failing write is a StoreError and leaves the store unchanged.
   */
  breakStore(): Promise<() => Promise<void>>;
  /**
   * The harness's own secrets (a Vault token, an AppRole secret_id, an AWS secret access key or session token),
   * scanned for like the made-up credentials. Read at every scan, so a harness may add one as it learns it (a
   * token a login returned). At least 8 characters each, so that a match means a leak.
   */
  secrets?: string[];
  /** Remove the store. Called after every test, also a failed one, once the test's providers are closed. */
  cleanup(): Promise<void>;
}

/** What a harness adds for a provider that declares `versioned`. */
export interface VersionedContractStore {
  /** How many versions the store keeps, deleted ones included (0 for no store): its history, not what readers see. */
  versionCount(): Promise<number>;
}

/** What a harness adds when its options set `interceptsWrites`. */
export interface InterceptedContractStore {
  /**
   * Run `action` once, at the moment the provider's next request that changes the store (Vault: the data write;
   * AWS: PutSecretValue) reaches it, and only then let that request go on. The provider has done all its checks
   * by then, so an external write in `action` is a true race with it; a `breakStore()` in `action` makes the very
   * request that carries the secret fail. The action's own calls must not go through the interception.
   */
  beforeStoreWrite(action: () => Promise<void>): void;
}

export interface ContractOptions {
  /**
   * The capabilities the provider declares. Cases that depend on one are declared only if it is true, and one
   * case checks that a fresh provider's `capabilities` equal these.
   */
  capabilities: ProviderCapabilities;
  /**
   * The harness's stores implement `beforeStoreWrite` (a proxy in front of the store's server). Adds the cases
   * that race a writer with the provider's own write request and break the store at that request. Left out for a
   * store with no request to intercept (a file).
   */
  interceptsWrites?: boolean;
  /** Credential kinds to run the suite for; default both. */
  kinds?: readonly CredentialKind[];
  /** Per-test timeout in milliseconds, for stores behind a network. */
  timeout?: number;
}

/** The store a harness must make for these options. */
export type ContractStoreFor<Options extends ContractOptions> = ContractStore &
  (Options extends { capabilities: { versioned: true } } ? VersionedContractStore : unknown) &
  (Options extends { interceptsWrites: true } ? InterceptedContractStore : unknown);

export interface ContractHarness<Store extends ContractStore = ContractStore> {
  /** A fresh store at a fresh location, holding `initial` (and the harness's other content), or no credential. */
  create(initial: StoredCredential | undefined, kind: CredentialKind): Promise<Store>;
}

/** A store as the suite sees it: the optional parts are there whenever the options call for them. */
type SuiteStore = ContractStore & Partial<VersionedContractStore & InterceptedContractStore>;

/** Declare the contract's tests for one provider. Call it at the top level of a test file. */
export function runProviderContract<const Options extends ContractOptions>(
  name: string,
  harness: ContractHarness<NoInfer<ContractStoreFor<Options>>>,
  options: Options,
): void {
  const kinds = options.kinds ?? ["api-key", "auth-token"];
  const { capabilities, timeout } = options;
  const intercepts = options.interceptsWrites === true;

  describe(`${name}: store provider contract`, () => {
    it(
      "a fresh provider declares exactly the capabilities the suite was told",
      async () => {
        expect.hasAssertions();
        for (const kind of kinds) {
          const store: ContractStore = await harness.create(undefined, kind);
          const opened = [store.provider];
          try {
            expect(store.provider.capabilities, `${kind} provider`).toEqual(capabilities);
            const reopened = store.reopen();
            opened.push(reopened);
            expect(reopened.capabilities, `reopened ${kind} provider`).toEqual(capabilities);
          } finally {
            await closeAll(opened);
            await store.cleanup();
          }
        }
      },
      timeout,
    );

    for (const kind of kinds) {
      describe(kind, () => {
        /**
         * A store seeded with an old credential (or none), and the made-up secrets to look out for. Closes every
         * provider of the test, then removes the store, when the test ends.
         */
        async function setup(seed: "seeded" | "empty") {
          expect.hasAssertions();
          const test = new ContractRun(kind);
          const old = test.credential();
          const created: ContractStore = await harness.create(seed === "seeded" ? old : undefined, kind);
          const store: SuiteStore = created;
          const opened = [store.provider];
          onTestFinished(async () => {
            try {
              await closeAll(opened);
            } finally {
              await store.cleanup();
            }
          });
          test.watch(store);
          const { provider } = store;
          test.scan(provider.describe(), "describe()");
          /** `store.reopen()`, closed when the test ends. */
          const reopen = (): StoreProvider => {
            const reopened = store.reopen();
            opened.push(reopened);
            test.scan(reopened.describe(), "describe()");
            return reopened;
          };
          return { test, old, store, provider, reopen };
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
            // A run that ends before creating a key releases with no key id, as the engine does.
            await provider.release(restorePoint, { ...test.ctx, newKeyId: "" });
            expect(await store.raw()).toEqual(before);
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
            await provider.release(restorePoint, test.withKey(next));
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
            test.scan(await provider.write(next, restorePoint, test.ctx), "version");
            expect((await provider.read()).credential).toEqual(next);
            expect(await store.others()).toEqual(others);

            await provider.rollback(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toBeUndefined();
            await provider.release(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
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
          "a fresh provider writing again for the same run and value after a completed write changes nothing (a lost answer, then resume)",
          async () => {
            const { test, old, store, provider, reopen } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            const first = await provider.write(next, restorePoint, test.ctx);
            const rawAfterFirst = await store.raw();
            const readAfterFirst = await provider.read();
            // The process dies before the journal records the write; `resume` writes again with a new provider.
            await provider.close?.();

            const resumed = reopen();
            expect(await resumed.write(next, test.journal(restorePoint), test.ctx)).toEqual(first);
            expect(await store.raw()).toEqual(rawAfterFirst);
            expect(await resumed.read()).toEqual(readAfterFirst);

            // It is still this run's write: the new provider can undo it.
            await resumed.rollback(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
            expect((await resumed.read()).credential).toEqual(old);
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

            await provider.rollback(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);
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

            await provider.rollback(restorePoint, test.withKey(test.credential()));
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

            await provider.rollback(restorePoint, test.withKey(next));
            await provider.rollback(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
            expect((await provider.read()).credential).toEqual(old);
          },
          timeout,
        );

        it(
          "a fresh provider rolls back from the journaled restore point alone (crash after write)",
          async () => {
            const { test, old, store, provider, reopen } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.write(next, restorePoint, test.ctx);
            await provider.close?.();

            const resumed = reopen();
            await resumed.rollback(test.journal(restorePoint), test.withKey(next));
            expect(await store.raw()).toEqual(before);
            expect((await resumed.read()).credential).toEqual(old);
            await resumed.release(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
          },
          timeout,
        );

        it(
          "a fresh provider's rollback after a crash between prepare and write changes nothing",
          async () => {
            const { test, store, provider, reopen } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
            await provider.close?.();

            const resumed = reopen();
            const next = test.credential();
            await resumed.rollback(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
            await resumed.release(restorePoint, test.withKey(next));
            expect(await store.raw()).toEqual(before);
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

            await provider.release(restorePoint, test.withKey(next));
            await provider.release(restorePoint, test.withKey(next));
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
            await provider.rollback(restorePoint, test.withKey(next));

            await provider.release(restorePoint, test.withKey(next));
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

            const error = await test.rejects(provider.rollback(restorePoint, test.withKey(next)), "needs-operator");
            expect(error.store).toBe(provider.name);
            expect(await store.raw()).toEqual(external);
            expect((await provider.read()).credential).toEqual(theirs);
          },
          timeout,
        );

        it(
          "a broken store fails the write with a StoreError naming it, and is left unchanged",
          async () => {
            const { test, old, store, provider } = await setup("seeded");
            const before = await store.raw();
            const { snapshot } = await provider.preflight();
            const next = test.credential();
            const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));

            const repair = await store.breakStore();
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
            await undoesAndRetries(test, store, provider, restorePoint, next, before);
          },
          timeout,
        );

        if (capabilities.checkAndSet) {
          it(
            "check-and-set: a change between preflight and write is refused, not overwritten",
            async () => {
              const { test, store, provider } = await setup("seeded");
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
            async () => {
              const { test, store, provider } = await setup("seeded");
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
        }

        if (capabilities.checkAndSet && intercepts) {
          it(
            "check-and-set: a change landing as the write request reaches the store is refused, not overwritten",
            async () => {
              const { test, store, provider } = await setup("seeded");
              const beforeStoreWrite = harnessHook(store.beforeStoreWrite, "beforeStoreWrite");
              const { snapshot } = await provider.preflight();
              const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
              const next = test.credential();
              const theirs = test.credential();
              const external: unknown[] = [];
              beforeStoreWrite(async () => {
                await store.externalWrite(theirs);
                external.push(await store.raw());
              });

              const error = await test.rejects(provider.write(next, restorePoint, test.ctx), "needs-operator");
              expect(external, "the harness ran the external write at the write request").toHaveLength(1);
              expect(error.store).toBe(provider.name);
              expect(await store.raw()).toEqual(external[0]);
              expect((await provider.read()).credential).toEqual(theirs);

              // Undoing the refused write leaves their value alone too.
              const rollbackError = await test.rejects(
                provider.rollback(restorePoint, test.withKey(next)),
                "needs-operator",
              );
              expect(rollbackError.store).toBe(provider.name);
              expect(await store.raw()).toEqual(external[0]);
            },
            timeout,
          );
        }

        if (intercepts) {
          it(
            "a store failing at the write request itself fails the write with a StoreError, and is left unchanged",
            async () => {
              const { test, old, store, provider } = await setup("seeded");
              const beforeStoreWrite = harnessHook(store.beforeStoreWrite, "beforeStoreWrite");
              const before = await store.raw();
              const { snapshot } = await provider.preflight();
              const next = test.credential();
              const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));

              const repairs: (() => Promise<void>)[] = [];
              beforeStoreWrite(async () => {
                repairs.push(await store.breakStore());
              });
              let error: StoreError;
              try {
                error = await test.rejects(provider.write(next, restorePoint, test.ctx));
              } finally {
                for (const repair of repairs) await repair();
              }
              expect(repairs, "the harness broke the store at the write request").toHaveLength(1);
              expect(error.store).toBe(provider.name);
              expect(error.message).toContain(`"${provider.name}"`);
              expect(await store.raw()).toEqual(before);
              expect((await provider.read()).credential).toEqual(old);
              await undoesAndRetries(test, store, provider, restorePoint, next, before);
            },
            timeout,
          );
        }

        if (capabilities.versioned) {
          it(
            "versioned: a write adds one version, and writing again for the same run and value, from the same or a fresh provider, adds none",
            async () => {
              const { test, store, provider, reopen } = await setup("seeded");
              const versionCount = harnessHook(store.versionCount, "versionCount");
              const { snapshot } = await provider.preflight();
              const next = test.credential();
              const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
              const versionsBefore = await versionCount();
              const first = await provider.write(next, restorePoint, test.ctx);
              expect(await versionCount()).toBe(versionsBefore + 1);

              expect(await provider.write(next, restorePoint, test.ctx)).toEqual(first);
              expect(await reopen().write(next, test.journal(restorePoint), test.ctx)).toEqual(first);
              expect(await versionCount()).toBe(versionsBefore + 1);
            },
            timeout,
          );
        }
      });
    }
  });
}

/**
 * After a failed write: nothing it left behind stands in the way of undoing or retrying. Rollback changes
 * nothing, the write then works, and its rollback restores the store.
 */
async function undoesAndRetries(
  test: ContractRun,
  store: ContractStore,
  provider: StoreProvider,
  restorePoint: RestorePoint,
  next: StoredCredential,
  before: unknown,
): Promise<void> {
  await provider.rollback(restorePoint, test.withKey(next));
  expect(await store.raw()).toEqual(before);
  await provider.write(next, restorePoint, test.ctx);
  expect((await provider.read()).credential).toEqual(next);
  await provider.rollback(restorePoint, test.withKey(next));
  expect(await store.raw()).toEqual(before);
}

/** A hook the options promised the harness has (the types see to it); fails the test, loudly, if it lacks it. */
function harnessHook<Hook>(hook: Hook | undefined, name: string): Hook {
  if (hook === undefined) throw new Error(`the harness's store lacks ${name}, which its contract options call for`);
  return hook;
}

async function closeAll(providers: readonly StoreProvider[]): Promise<void> {
  for (const provider of providers) await provider.close?.();
}

/**
 * Make a directory refuse new entries, also for root: root ignores permission bits, so as root this sets the
 * immutable attribute (`chattr +i`, needs CAP_LINUX_IMMUTABLE and a file system that supports it, such as
 * ext4, xfs, btrfs); otherwise it removes the write bits. Creating, renaming or deleting a file in it then
 * fails (EPERM or EACCES), which is how a read-only directory breaks an atomic replace. Checks that it worked
 * and returns the undo.
 */
/** The StoreError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof StoreError)) throw new Error(`expected a StoreError, got ${String(error)}`);
  return error;
}

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

/** The made-up credentials of one test, and the checks that none of their secrets (or the harness's) leaks. */
class ContractRun {
  readonly ctx = { runId: `contract-${randomBytes(6).toString("hex")}` };
  readonly #kind: CredentialKind;
  readonly #accountSid = `AC${randomBytes(16).toString("hex")}`;
  readonly #secrets: string[] = [];
  #store: Pick<ContractStore, "secrets"> | undefined;

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

  /** The context of rollback and release for a run that wrote `next`. */
  withKey(next: StoredCredential) {
    return { ...this.ctx, newKeyId: credentialId(next) };
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
  async rejects(promise: Promise<unknown>, kind?: StoreErrorKind): Promise<StoreError> {
    let caught: unknown;
    try {
      await promise;
    } catch (error) {
      caught = error;
    }
    // As a log line shows it, and everything it holds: hidden properties, the whole cause chain, an SDK error's
    // request, response and headers, an HTTP client's config. A debugger or an error reporter sees all of it.
    this.#scanText(describeError(caught), "the error's message or cause");
    this.#scanText(inspect(caught, { depth: Number.POSITIVE_INFINITY, showHidden: true }), "the error, inspected");
    if (!(caught instanceof StoreError)) {
      throw new Error(`expected a StoreError, got ${caught === undefined ? "success" : describeError(caught)}`);
    }
    if (kind !== undefined) expect(caught.kind, caught.message).toBe(kind);
    return caught;
  }

  #scanText(text: string, what: string): void {
    const theirs = this.#store?.secrets ?? [];
    for (const secret of theirs) {
      expect(secret.length, "a harness secret shorter than 8 characters would match by chance").toBeGreaterThanOrEqual(
        8,
      );
    }
    for (const secret of [...this.#secrets, ...theirs]) {
      const at = text.indexOf(secret);
      // On a leak, show where it is (the text around it, not the secret), which is enough to find it.
      const leak =
        at < 0
          ? undefined
          : `${text.slice(Math.max(0, at - 300), at)}<SECRET>${text.slice(at + secret.length, at + secret.length + 100)}`;
      expect(leak, `${what} contains a secret value`).toBeUndefined();
    }
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
