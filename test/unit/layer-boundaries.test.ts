/**
 * The layers' boundaries (README, "Developing"), checked over the import lines of the sources: what a folder
 * imports says which layer it leans on, so a boundary crossed is a failing test rather than a review comment.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/package-root.js";

const root = packageRoot();

/** The source files (no tests) under a folder of the repository, relative to it. */
async function sources(dir: string): Promise<string[]> {
  const names = await readdir(join(root, dir), { recursive: true });
  return names.filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts")).map((name) => `${dir}/${name}`);
}

/**
 * What a file imports of the repository, as paths relative to it (`src/engine/index.ts`): static imports and
 * re-exports, type-only ones included, and dynamic `import()`s.
 */
async function importsOf(file: string): Promise<string[]> {
  const code = await readFile(join(root, file), "utf8");
  const specifiers = [
    ...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"/gm),
    ...code.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.map((specifier) => relative(root, join(root, dirname(file), specifier)).replace(/\.js$/, ".ts"));
}

/** `file imports target` for each import of the files under `dir` that `crosses` says crosses the boundary. */
async function crossings(dir: string, crosses: (target: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const file of await sources(dir)) {
    for (const target of await importsOf(file)) if (crosses(target)) found.push(`${file} imports ${target}`);
  }
  return found;
}

/** Imports that load code when the importing module loads: static ones, not `import type`/`export type`. */
async function loadedImportsOf(file: string): Promise<string[]> {
  const code = await readFile(join(root, file), "utf8");
  const specifiers = [...code.matchAll(/^\s*(import|export)\b(?!\s+type\b)[^;]*?\bfrom\s*"([^"]+)"/gm)].map(
    (match) => match[2]!,
  );
  return specifiers.map((specifier) =>
    specifier.startsWith(".")
      ? relative(root, join(root, dirname(file), specifier)).replace(/\.js$/, ".ts")
      : `package ${specifier}`,
  );
}

/** Every module loading `file` loads with it (itself included), following static imports. */
async function loadedWith(file: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(file)) return seen;
  seen.add(file);
  if (file.startsWith("package ")) return seen;
  for (const target of await loadedImportsOf(file)) await loadedWith(target, seen);
  return seen;
}

/**
 * The engine's public entries: the operations that change stores (and plan); the light one (context, state,
 * status, reporters); and the result shape alone (all `version` and `validate` need: one small module).
 */
const ENGINE_ENTRIES = ["src/engine/index.ts", "src/engine/read.ts", "src/engine/result.ts"];
const LIGHT_ENTRIES = ["src/engine/read.ts", "src/engine/result.ts"];

describe("layer boundaries", () => {
  it("the import scanner sees static, type-only, re-exported and dynamic imports", async () => {
    // The scanner itself, on a file known to have all four (a check that cannot see an import proves nothing).
    const seen = await importsOf("src/commands/doctor/run.ts");
    expect(seen).toEqual(expect.arrayContaining(["src/cli/output.ts", "src/doctor/doctor.ts", "src/config/load.ts"]));
  });

  it("every folder under providers/ is a store provider (its index.ts a definition) or the providers' error kit", async () => {
    const folders = (await readdir(join(root, "providers"), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    const notProviders = folders.filter((name) => !existsSync(join(root, "providers", name, "index.ts")));
    expect(notProviders).toEqual(["error-kit"]);
  });

  it("the consumer probes import no store provider: the Kubernetes client both use is in src/kubernetes-client/", async () => {
    // A provider's folder (providers/<type>/); the error kit and the files beside the folders are shared.
    const intoProviders = await crossings(
      "src/consumer-probes",
      (target) => /^providers\/[^/]+\//.test(target) && !target.startsWith("providers/error-kit/"),
    );
    expect(intoProviders).toEqual([]);
    expect(
      await crossings("src/consumer-probes/kubernetes", (target) => target.startsWith("src/kubernetes-client/")),
    ).not.toEqual([]);
  });

  it("the store layer imports no credential type: their layouts reach it through providers/credential-layouts.ts", async () => {
    const intoCredentials = await crossings("providers", (target) => target.startsWith("src/credentials/"));
    expect(intoCredentials).toEqual([]);
    // The port is what the registry fills (a boundary kept by the port, not by nothing reading the types).
    expect(await crossings("src/credentials", (target) => target === "providers/credential-layouts.ts")).toEqual([
      "src/credentials/registry.ts imports providers/credential-layouts.ts",
    ]);
  });

  it("commands reach the engine only through its public entries (src/engine/index.ts, read.ts, result.ts)", async () => {
    const deeper = await crossings(
      "src/commands",
      (target) => target.startsWith("src/engine/") && !ENGINE_ENTRIES.includes(target),
    );
    expect(deeper).toEqual([]);
  });

  it.each(LIGHT_ENTRIES)(
    "the light entry %s loads no operation, context, state, store provider or package",
    async (entry) => {
      const loaded = [...(await loadedWith(entry))].sort();
      expect(loaded.filter((file) => file.startsWith("package "))).toEqual([]);
      expect(loaded.filter((file) => !file.startsWith("src/engine/") && !file.startsWith("src/util/"))).toEqual([]);
      expect(loaded).not.toContain("src/engine/index.ts");
      for (const heavy of [
        "operations/",
        "context.ts",
        "state/",
        "reporter.ts",
        "steps.ts",
        "runner.ts",
        "preflight.ts",
      ]) {
        expect(
          loaded.filter((file) => file.startsWith(`src/engine/${heavy}`)),
          heavy,
        ).toEqual([]);
      }
      // The scan sees through a static import (a check that could not would pass anything).
      expect(loaded).toEqual(expect.arrayContaining(["src/engine/result.ts", "src/util/mask.ts"]));
    },
  );
});
