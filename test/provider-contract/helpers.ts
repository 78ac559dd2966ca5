/** Pieces the case groups share, and helpers provider tests use beside the suite. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";
import type { ProviderCapabilities, RestorePoint, StoredCredential, StoreProvider } from "../../providers/contract.js";
import { StoreError } from "../../providers/errors.js";
import type { ContractRun } from "./scanner.js";
import type { ContractStore, SuiteStore } from "./types.js";

/** What one test of the suite works with: see `setup` in index.ts. */
export interface TestSetup {
  test: ContractRun;
  old: StoredCredential;
  store: SuiteStore;
  provider: StoreProvider;
  /** `store.reopen()`, closed when the test ends. */
  reopen(): StoreProvider;
}

/** What every case group is declared with. */
export interface CaseContext {
  /** A store seeded with an old credential (or none), closed and removed when the test ends. */
  setup(seed: "seeded" | "empty"): Promise<TestSetup>;
  capabilities: ProviderCapabilities;
  intercepts: boolean;
  timeout: number | undefined;
}

/**
 * After a failed write: nothing it left behind stands in the way of undoing or retrying. Rollback changes
 * nothing readers see; then the write works, and its rollback restores the store. A store whose rollback fences
 * the run's writes (`rollbackFencesWrites`) refuses the write after the rollback instead, leaving the store as
 * it was; there the retried write is tried first, and then undone.
 */
export async function undoesAndRetries(
  test: ContractRun,
  store: ContractStore,
  provider: StoreProvider,
  restorePoint: RestorePoint,
  next: StoredCredential,
  before: unknown,
  capabilities: ProviderCapabilities,
): Promise<void> {
  if (capabilities.rollbackFencesWrites) {
    await provider.write(next, restorePoint, test.ctx);
    expect((await provider.read()).credential).toEqual(next);
    await provider.rollback(restorePoint, test.withKey(next));
    expect(await store.raw()).toEqual(before);
    await test.rejects(provider.write(next, restorePoint, test.ctx), "needs-operator");
    expect(await store.raw()).toEqual(before);
    return;
  }
  await provider.rollback(restorePoint, test.withKey(next));
  expect(await store.raw()).toEqual(before);
  await provider.write(next, restorePoint, test.ctx);
  expect((await provider.read()).credential).toEqual(next);
  await provider.rollback(restorePoint, test.withKey(next));
  expect(await store.raw()).toEqual(before);
}

/** A hook the options promised the harness has (the types see to it); fails the test, loudly, if it lacks it. */
export function harnessHook<Hook>(hook: Hook | undefined, name: string): Hook {
  if (hook === undefined) throw new Error(`the harness's store lacks ${name}, which its contract options call for`);
  return hook;
}

export async function closeAll(providers: readonly StoreProvider[]): Promise<void> {
  for (const provider of providers) await provider.close?.();
}

/** The StoreError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof StoreError)) throw new Error(`expected a StoreError, got ${String(error)}`);
  return error;
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
