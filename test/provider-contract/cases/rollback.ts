/** Rollback and release: exact undo, idempotent, from the journal alone, never over someone else's value; a broken store. */
import { expect, it } from "vitest";
import type { StoreError } from "../../../providers/errors.js";
import { type CaseContext, undoesAndRetries } from "../helpers.js";

export function declareRollbackCases({ setup, capabilities, timeout }: CaseContext): void {
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
    "rollback when write never ran changes nothing readers see",
    async () => {
      const { test, store, provider } = await setup("seeded");
      const before = await store.raw();
      const { snapshot } = await provider.preflight();
      const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));

      await provider.rollback(restorePoint, test.withKey(test.credential()));
      expect(await store.raw()).toEqual(before);
      // A store whose rollback fences the run's writes moves to a new version holding the same value.
      const after = await provider.read();
      expect(after.credential).toEqual(snapshot.credential);
      if (!capabilities.rollbackFencesWrites) expect(after).toEqual(snapshot);
    },
    timeout,
  );

  if (capabilities.rollbackFencesWrites) {
    it(
      "after a rollback, a write of the run (one still on its way, or retried) is refused: the store keeps the old value",
      async () => {
        const { test, old, store, provider, reopen } = await setup("seeded");
        const before = await store.raw();
        const { snapshot } = await provider.preflight();
        const restorePoint = test.journal(await provider.prepare(snapshot, test.ctx));
        const next = test.credential();

        // Rolled back before its write landed (another host took the run over), then the write arrives.
        await reopen().rollback(test.journal(restorePoint), test.withKey(next));
        await test.rejects(provider.write(next, restorePoint, test.ctx), "needs-operator");
        expect(await store.raw()).toEqual(before);
        expect((await provider.read()).credential).toEqual(old);
        // As the engine does once a rollback is done: the restore point (a backup, for some stores) is dropped.
        await provider.release(restorePoint, test.withKey(next));

        // Written, rolled back, written again: refused as well.
        const { snapshot: again } = await provider.preflight();
        const second = test.journal(await provider.prepare(again, { runId: `${test.ctx.runId}-2` }));
        const ctx2 = { runId: `${test.ctx.runId}-2` };
        await provider.write(next, second, ctx2);
        await provider.rollback(second, { ...ctx2, newKeyId: test.withKey(next).newKeyId });
        await test.rejects(provider.write(next, second, ctx2), "needs-operator");
        expect((await provider.read()).credential).toEqual(old);
        expect(await store.raw()).toEqual(before);
      },
      timeout,
    );
  }

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
      await undoesAndRetries(test, store, provider, restorePoint, next, before, capabilities);
    },
    timeout,
  );
}
