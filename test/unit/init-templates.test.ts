/** The configs `rotator init` writes are valid as written, for every store type and credential type. */
import { describe, expect, it } from "vitest";
import { providers } from "../../providers/registry.js";
import { STORE_TYPES } from "../../src/commands/init/store-types.js";
import { initialConfig } from "../../src/commands/init/templates.js";
import { parseConfigText, validateConfig } from "../../src/config/load.js";

describe("rotator init's templates", () => {
  it("offer exactly the store types the provider registry has", () => {
    expect([...STORE_TYPES].sort()).toEqual(Object.keys(providers).sort());
  });

  it.each(["api-key", "auth-token"] as const)(
    "are valid for each store type alone and all together (%s)",
    (credential) => {
      for (const stores of [...STORE_TYPES.map((type) => [type]), [...STORE_TYPES, ...STORE_TYPES]]) {
        const text = initialConfig(stores, credential);
        const config = validateConfig(parseConfigText(text, "rotator.yaml"), "rotator.yaml");
        expect(config.credential.type).toBe(credential);
        expect(config.stores.map((store) => store.type)).toEqual(stores);
        // Names and places never collide, so two of a type make two stores.
        expect(new Set(config.stores.map((store) => store.name)).size).toBe(stores.length);
        expect(text).toContain("CHANGE ME");
      }
    },
  );
});
