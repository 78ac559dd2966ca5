/**
 * The credential registry against the folders beside it: every folder with an index.ts is one registered type,
 * filed under its own type, with the same files, a schema that takes its type and no other, fields with a secret
 * among them, and a journal word that round-trips.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { fromDisk, toDisk } from "../engine/journal-words.js";
import type { CredentialTypeDefinition } from "./definition.js";
import { credentialTypeOf, registerCredentialType, registeredCredentialTypes } from "./registry.js";

beforeEach(() => {
  expect.hasAssertions();
});

const credentialsDir = dirname(fileURLToPath(import.meta.url));
/** What a type's folder holds: its config schema, its words, its credential's shape, its issuer, its definition. */
const FOLDER_FILES = ["credential.ts", "index.ts", "issuer.ts", "labels.ts", "schema.ts"];

async function typeFolders(): Promise<string[]> {
  const entries = await readdir(credentialsDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && existsSync(join(credentialsDir, entry.name, "index.ts")))
    .map((entry) => entry.name)
    .sort();
}

describe("credential registry", () => {
  it("registers exactly the type folders (those with an index.ts), each under its folder's name", async () => {
    expect(
      registeredCredentialTypes()
        .map((definition) => definition.type)
        .sort(),
    ).toEqual(await typeFolders());
  });

  it("each folder's index.ts exports the registered definition, and the folder has the files every type has", async () => {
    for (const folder of await typeFolders()) {
      const index = pathToFileURL(join(credentialsDir, folder, "index.ts")).href;
      const exported = Object.values(await import(/* @vite-ignore */ index)) as CredentialTypeDefinition[];
      expect(exported, folder).toContain(credentialTypeOf(folder));
      expect((await readdir(join(credentialsDir, folder))).filter((name) => !name.endsWith(".test.ts")).sort()).toEqual(
        FOLDER_FILES,
      );
    }
  });

  it("README's list of the files a new credential type touches names exactly a folder's files and the registry", async () => {
    const readme = await readFile(join(credentialsDir, "..", "..", "README.md"), "utf8");
    const start = readme.search(/Files a new\s+credential type touches/);
    expect(start).toBeGreaterThan(0);
    const list = readme.slice(start, readme.indexOf("A type from outside the repository", start));
    const folderItem = list.match(/- `src\/credentials\/<type>\/[^;]*;/)?.[0] ?? "";
    const named = [...folderItem.matchAll(/`(?:src\/credentials\/<type>\/)?([a-z-]+\.ts)`/g)].map((m) => m[1]).sort();
    expect(named).toEqual(FOLDER_FILES);
    expect(list).toContain("`src/credentials/registry.ts`");
    expect(list).toContain("`config/rotator.schema.json`");
  });

  it("each definition's config schema takes its own type and no other", () => {
    for (const definition of registeredCredentialTypes()) {
      expect(definition.configSchema.safeParse({ type: definition.type }).success, definition.type).toBe(true);
      expect(definition.configSchema.safeParse({ type: `${definition.type}-other` }).success).toBe(false);
    }
  });

  it("each definition lists accountSid first and at least one secret field, with names in both store styles", () => {
    for (const definition of registeredCredentialTypes()) {
      expect(definition.fields[0]?.key, definition.type).toBe("accountSid");
      expect(definition.fields.some((field) => field.secret)).toBe(true);
      for (const field of definition.fields) {
        expect(field.json, `${definition.type}.${field.key}`).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        expect(field.dotenv, `${definition.type}.${field.key}`).toMatch(/^[A-Z][A-Z0-9_]*$/);
      }
    }
  });

  it("each type's journal word round-trips through the journal", () => {
    for (const { labels } of registeredCredentialTypes()) {
      const event = { event: "credential-issued", newId: "id-1" };
      expect(fromDisk(toDisk(event, labels.word))).toEqual(event);
    }
  });

  it("refuses a type registered twice, and one registered after the config schema was built", async () => {
    const [first] = registeredCredentialTypes();
    expect(() => registerCredentialType(first!)).toThrow(/registered already/);
    // Importing the config's schema builds nothing yet (a plug-in imports rotator, then registers).
    const { configSchema } = await import("../config/schema.js");
    expect(registeredCredentialTypes().map((definition) => definition.type)).not.toContain("early-type");
    registerCredentialType({ ...first!, type: "early-type" });
    configSchema();
    expect(() => registerCredentialType({ ...first!, type: "late-type" })).toThrow(/after the config schema was built/);
  });

  it("names an unknown type with the known ones", () => {
    expect(() => credentialTypeOf("ssh-key")).toThrow(
      /^no credential type "ssh-key" is registered \(known: api-key, auth-token[,)]/,
    );
  });
});
