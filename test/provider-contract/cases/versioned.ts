/** A versioned store: one version per write, none for a repeated one. */
import { expect, it } from "vitest";
import { type CaseContext, harnessHook } from "../helpers.js";

export function declareVersionedCases({ setup, capabilities, timeout }: CaseContext): void {
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
}
