/**
 * A credential type's optional fields (an Auth Token's previous token, kept only while a rotation runs): a write of
 * a credential without one removes it from the store; a rollback of that write puts it back; each write is
 * idempotent. One run writes the same credential twice (with the field, then without), so "already written" and
 * "still ours" must compare every field, not the id: both writes have the same id.
 */
import { expect, it } from "vitest";
import type { StoredCredential } from "../../../providers/contract.js";
import { credentialTypeOf } from "../../../src/credentials/registry.js";
import type { CaseContext, TestSetup } from "../helpers.js";

/** The credential without its optional fields: what a retire write makes current. */
function withoutOptional(kind: string, credential: StoredCredential): StoredCredential {
  const optional = new Set(
    credentialTypeOf(kind)
      .fields.filter((field) => field.optional === true)
      .map((field) => field.key),
  );
  return Object.fromEntries(
    Object.entries(credential).filter(([key]) => !optional.has(key)),
  ) as unknown as StoredCredential;
}

/** The run's first write (the credential with its optional fields), then its second (without them). */
async function writeBoth({ test, provider }: Pick<TestSetup, "test" | "provider">, kind: string) {
  const { snapshot } = await provider.preflight();
  const withField = test.credential();
  const first = test.journal(await provider.prepare(snapshot, test.ctx));
  await provider.write(withField, first, test.ctx);
  const written = await provider.read();
  expect(written.credential).toEqual(withField);
  const withoutField = withoutOptional(kind, withField);
  // As the engine does: the first write's restore point is dropped before the second write is prepared.
  await provider.release(first, test.withKey(withField));
  const second = test.journal(await provider.prepare(written, test.ctx));
  const version = test.scan(await provider.write(withoutField, second, test.ctx), "version");
  return { withField, withoutField, first, second, version };
}

export function declareOptionalFieldCases({ setup, capabilities, timeout }: CaseContext, kind: string): void {
  if (!credentialTypeOf(kind).fields.some((field) => field.optional === true)) return;

  it(
    "a credential without its optional field, written after one with it, reads back without it; a retry changes nothing",
    async () => {
      const { test, store, provider, reopen } = await setup("seeded");
      const others = await store.others();
      const { withField, withoutField, second, version } = await writeBoth({ test, provider }, kind);
      expect(withoutField).not.toEqual(withField);
      const after = await provider.read();
      expect(after.credential).toEqual(withoutField);
      expect(await store.others()).toEqual(others);

      const raw = await store.raw();
      expect(await provider.write(withoutField, second, test.ctx)).toEqual(version);
      expect(await reopen().write(withoutField, second, test.ctx)).toEqual(version);
      expect(await store.raw()).toEqual(raw);
      expect(await provider.read()).toEqual(after);
    },
    timeout,
  );

  it(
    "the first write (with the optional field) retried after it landed changes nothing",
    async () => {
      const { test, store, provider, reopen } = await setup("seeded");
      const { snapshot } = await provider.preflight();
      const withField = test.credential();
      const point = test.journal(await provider.prepare(snapshot, test.ctx));
      const version = await provider.write(withField, point, test.ctx);
      const raw = await store.raw();
      expect(await reopen().write(withField, point, test.ctx)).toEqual(version);
      expect(await store.raw()).toEqual(raw);
      expect((await provider.read()).credential).toEqual(withField);
    },
    timeout,
  );

  it(
    "a rollback of the write without the optional field puts it back; again changes nothing",
    async () => {
      const { test, store, provider, reopen } = await setup("seeded");
      const { snapshot } = await provider.preflight();
      const withField = test.credential();
      const first = test.journal(await provider.prepare(snapshot, test.ctx));
      await provider.write(withField, first, test.ctx);
      const rawWithField = await store.raw();
      const written = await provider.read();
      const withoutField = withoutOptional(kind, withField);
      await provider.release(first, test.withKey(withField));
      const second = test.journal(await provider.prepare(written, test.ctx));
      await provider.write(withoutField, second, test.ctx);
      expect(await store.raw()).not.toEqual(rawWithField);

      await provider.rollback(second, test.withKey(withoutField));
      expect((await provider.read()).credential).toEqual(withField);
      expect(await store.raw()).toEqual(rawWithField);
      await reopen().rollback(second, test.withKey(withoutField));
      expect(await store.raw()).toEqual(rawWithField);
      expect((await provider.read()).credential).toEqual(withField);
      await provider.release(second, test.withKey(withoutField));
      expect((await provider.read()).credential).toEqual(withField);
      if (capabilities.rollbackFencesWrites) {
        // The retire write of the run still on its way after its rollback finds the store moved on, and is refused.
        await test.rejects(provider.write(withoutField, second, test.ctx), "needs-operator");
        expect((await provider.read()).credential).toEqual(withField);
      }
    },
    timeout,
  );

  it(
    "a rollback leaves alone a store someone else set to the same credential id with another optional field",
    async () => {
      const { test, store, provider } = await setup("seeded");
      const { snapshot } = await provider.preflight();
      const withField = test.credential();
      const point = test.journal(await provider.prepare(snapshot, test.ctx));
      await provider.write(withField, point, test.ctx);
      // Same id (the optional field is not part of it), another value in the optional field: not this run's write.
      const theirs = { ...withField, ...optionalOf(kind, test.credential()) };
      expect(theirs).not.toEqual(withField);
      await store.externalWrite(theirs);
      const raw = await store.raw();
      expect((await provider.read()).credential).toEqual(theirs);

      await test.rejects(provider.rollback(point, test.withKey(withField)), "needs-operator");
      expect(await store.raw()).toEqual(raw);
    },
    timeout,
  );
}

/** The optional fields of a made-up credential. */
function optionalOf(kind: string, credential: StoredCredential): Record<string, string> {
  const optional = credentialTypeOf(kind).fields.filter((field) => field.optional === true);
  return Object.fromEntries(optional.map((field) => [field.key, credential[field.key] as string]));
}
