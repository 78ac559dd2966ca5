/**
 * The contract every store provider keeps, as one test suite each provider's test runs against its real store
 * (a temp directory, a local server). The suite owns the cases; a harness owns how to make, inspect and break
 * one isolated store. Shaped after unstorage's `testDriver` and keyv's test-suite.
 *
 *     runProviderContract("vault-kv2", { create: async (initial, kind) => ({ provider, raw, ... }) }, {
 *       capabilities: { checkAndSet: true, versioned: true, fence: "store", rollbackFencesWrites: true },
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
 * Split by concern: the harness's side in types.ts, the case groups in cases/, the secret scan in scanner.ts,
 * shared pieces in helpers.ts. This file is the entry point.
 *
 * Test-only: it imports vitest, and lives under test/, outside the build (tsconfig.build.json) and away from the
 * provider folders (providers/registry.test.ts holds those to the registry).
 */

import { describe, expect, it, onTestFinished } from "vitest";
import type { StoreProvider } from "../../providers/contract.js";
import { registeredCredentialTypes } from "../../src/credentials/registry.js";
import { declareOptionalFieldCases } from "./cases/optional-fields.js";
import { declareRaceCases } from "./cases/races.js";
import { declareReadCases } from "./cases/read.js";
import { declareRollbackCases } from "./cases/rollback.js";
import { declareVersionedCases } from "./cases/versioned.js";
import { declareWriteCases } from "./cases/write.js";
import { type CaseContext, closeAll, type TestSetup } from "./helpers.js";
import { ContractRun } from "./scanner.js";
import type { ContractHarness, ContractOptions, ContractStore, ContractStoreFor, SuiteStore } from "./types.js";

export { makeDirectoryUnwritable, rejection } from "./helpers.js";
export { secretFreeRejection } from "./scanner.js";
export type {
  ContractHarness,
  ContractOptions,
  ContractStore,
  ContractStoreFor,
  InterceptedContractStore,
  VersionedContractStore,
} from "./types.js";

/** Declare the contract's tests for one provider. Call it at the top level of a test file. */
export function runProviderContract<const Options extends ContractOptions>(
  name: string,
  harness: ContractHarness<NoInfer<ContractStoreFor<Options>>>,
  options: Options,
): void {
  const kinds = options.kinds ?? registeredCredentialTypes().map((type) => type.type);
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
        async function setup(seed: "seeded" | "empty"): Promise<TestSetup> {
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

        const cases: CaseContext = { setup, capabilities, intercepts, timeout };
        declareReadCases(cases);
        declareWriteCases(cases);
        declareRollbackCases(cases);
        declareRaceCases(cases);
        declareVersionedCases(cases);
        declareOptionalFieldCases(cases, kind);
      });
    }
  });
}
