/**
 * A store type's SDK that is not installed is told apart from everything else that can fail while a provider
 * loads: Node's own "cannot find" for that package (an ES import or a require), not for a package it needs.
 * (The whole path, from an installed rotator without the SDK to the message naming it, is in
 * test/e2e/package.test.ts.)
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isMissingPackage, MissingPackageError } from "../../providers/errors.js";

const failureOf = (load: () => unknown): Promise<unknown> =>
  Promise.resolve()
    .then(load)
    .then(
      () => expect.fail("it loaded"),
      (error: unknown) => error,
    );

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rotator-missing-sdk-"));
  // An SDK that is installed but lacks a package of its own.
  await mkdir(join(dir, "node_modules/fake-sdk"), { recursive: true });
  await writeFile(join(dir, "node_modules/fake-sdk/package.json"), '{ "name": "fake-sdk", "type": "module" }');
  await writeFile(join(dir, "node_modules/fake-sdk/index.js"), 'import "fake-sdk-dependency";\n');
  await writeFile(join(dir, "loader.mjs"), 'export const load = () => import("fake-sdk");\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("isMissingPackage", () => {
  it("is Node not finding the package itself, by import or by require", async () => {
    // Through a variable: the name is not one TypeScript should resolve.
    const name = "rotator-test-no-such-sdk";
    const imported = await failureOf(() => import(name));
    const required = await failureOf(() => createRequire(import.meta.url)("rotator-test-no-such-sdk"));
    for (const error of [imported, required]) {
      expect(isMissingPackage(error, "rotator-test-no-such-sdk")).toBe(true);
      expect(isMissingPackage(error, "rotator-test-no-such")).toBe(false);
      expect(isMissingPackage(error, "another-sdk")).toBe(false);
    }
  });

  it("is not an installed SDK missing a package of its own, nor any other error", async () => {
    const { load } = (await import(pathToFileURL(join(dir, "loader.mjs")).href)) as { load: () => Promise<unknown> };
    const error = await failureOf(load);
    expect(String(error)).toContain("fake-sdk-dependency");
    expect(isMissingPackage(error, "fake-sdk")).toBe(false);
    expect(isMissingPackage(new Error("Cannot find package 'fake-sdk'"), "fake-sdk")).toBe(false);
    expect(isMissingPackage(undefined, "fake-sdk")).toBe(false);
  });

  it("MissingPackageError names the store, its type and the package", () => {
    const error = new MissingPackageError("prod", "vault-kv2", "node-vault");
    expect(error.message).toBe(
      'store "prod" is of type vault-kv2, which needs the package node-vault: it is not installed',
    );
    expect(error).toMatchObject({ store: "prod", storeType: "vault-kv2", packageName: "node-vault" });
  });
});
