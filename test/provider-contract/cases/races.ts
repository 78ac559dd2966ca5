/** Writers racing the provider (check-and-set), and a store breaking at the very write request. */
import { expect, it } from "vitest";
import type { StoreError } from "../../../providers/errors.js";
import { type CaseContext, harnessHook, undoesAndRetries } from "../helpers.js";

export function declareRaceCases({ setup, capabilities, intercepts, timeout }: CaseContext): void {
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

        const error = await test.rejects(provider.write(test.credential(), restorePoint, test.ctx), "needs-operator");
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
        const rollbackError = await test.rejects(provider.rollback(restorePoint, test.withKey(next)), "needs-operator");
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
        await undoesAndRetries(test, store, provider, restorePoint, next, before, capabilities);
      },
      timeout,
    );
  }
}
