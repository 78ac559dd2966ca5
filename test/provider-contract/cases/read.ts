/** Preflight and read report what the store holds, and prepare changes nothing readers see. */
import { expect, it } from "vitest";
import type { CaseContext } from "../helpers.js";

export function declareReadCases({ setup, timeout }: CaseContext): void {
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
}
