import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { credentialTypeOf } from "../src/credentials/registry.js";
import { createStoreProvider, providers, storeEntrySchema } from "./registry.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const providersDir = dirname(fileURLToPath(import.meta.url));

describe("provider registry", () => {
  it("lists exactly the provider folders (those with an index.ts)", async () => {
    const entries = await readdir(providersDir, { withFileTypes: true });
    const folders = entries
      .filter((entry) => entry.isDirectory() && existsSync(join(providersDir, entry.name, "index.ts")))
      .map((entry) => entry.name)
      .sort();
    expect(Object.keys(providers).sort()).toEqual(folders);
  });

  it("files each definition under its own type", () => {
    for (const [key, definition] of Object.entries(providers)) {
      expect(definition.type).toBe(key);
      expect(definition.summary).not.toBe("");
    }
  });

  it("each definition's config schema takes its own type and no other", () => {
    for (const [key, definition] of Object.entries(providers)) {
      const shape = definition.configSchema.shape;
      expect(shape.type.def.values, key).toEqual([key]);
      expect(definition.configSchema.safeParse({ name: "x", type: `${key}-other` }).success).toBe(false);
    }
  });

  it("storeEntrySchema picks the provider's schema by type, and rejects unknown types and keys", () => {
    expect(storeEntrySchema.parse({ name: "host", type: "dotenv-file", path: "app.env" })).toEqual({
      name: "host",
      type: "dotenv-file",
      path: "app.env",
    });
    const unknownType = storeEntrySchema.safeParse({ name: "host", type: "ftp", path: "app.env" });
    expect(unknownType.error?.issues[0]).toMatchObject({ code: "invalid_union", path: ["type"] });
    const unknownKey = storeEntrySchema.safeParse({ name: "host", type: "dotenv-file", path: "app.env", region: "x" });
    expect(unknownKey.error?.issues[0]).toMatchObject({ code: "unrecognized_keys", keys: ["region"] });
  });

  it("each definition names the packages its folder imports beyond rotator's own bundle: optional peers of rotator", async () => {
    const pkg = JSON.parse(await readFile(join(providersDir, "..", "package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    };
    // Bundled into rotator (devDependencies), so never a store's to install.
    const bundled = new Set(["zod", "p-retry"]);
    for (const [key, definition] of Object.entries(providers)) {
      const folder = join(providersDir, key);
      const sources = (await readdir(folder)).filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"));
      const imported = new Set<string>();
      for (const source of sources) {
        const code = await readFile(join(folder, source), "utf8");
        for (const [, specifier] of code.matchAll(/^import\b[^;]*?\bfrom\s*"([^".][^"]*)"/gm)) {
          const name = specifier!
            .split("/")
            .slice(0, specifier!.startsWith("@") ? 2 : 1)
            .join("/");
          if (!name.startsWith("node:") && !bundled.has(name)) imported.add(name);
        }
      }
      expect([...definition.packages].sort(), key).toEqual([...imported].sort());
      for (const name of definition.packages) expect(pkg.peerDependencies, `${key}: ${name}`).toHaveProperty([name]);
    }
  });

  it("createStoreProvider builds the provider for an entry", async () => {
    const entry = storeEntrySchema.parse({ name: "host", type: "dotenv-file", path: "app.env" });
    const provider = await createStoreProvider(entry, {
      credential: credentialTypeOf("api-key"),
      baseDir: "/etc/app",
      env: {},
    });
    expect(provider.type).toBe("dotenv-file");
    expect(provider.name).toBe("host");
    expect(provider.describe()).toBe("dotenv file /etc/app/app.env");
  });
});
