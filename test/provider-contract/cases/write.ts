/** Write makes the new credential current, keeps everything else, and is idempotent (also from a fresh provider). */
import { expect, it } from "vitest";
import type { CaseContext } from "../helpers.js";

export function declareWriteCases({ setup, timeout }: CaseContext): void {
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
}
