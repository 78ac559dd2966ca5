/**
 * The configs `rotator init` writes are valid as written, for every store type and credential type; what a type
 * contributes comes from its definition, and a type's optional fields (rotator's to write) are never asked for.
 */
import { describe, expect, it } from "vitest";
import { providers } from "../../providers/registry.js";
import { CREDENTIAL_TYPES, STORE_TYPES } from "../../src/commands/init/store-types.js";
import { initialConfig } from "../../src/commands/init/templates.js";
import { parseConfigText, validateConfig } from "../../src/config/load.js";
import { credentialTypeOf, registeredCredentialTypes } from "../../src/credentials/registry.js";
// A type with no `init` of its own, as a plug-in may register: init still writes a valid config for it.
import "./client-secret-type.js";

const TYPES = registeredCredentialTypes().map((definition) => definition.type);

describe("rotator init's templates", () => {
  it("offer exactly the store types the provider registry has", () => {
    expect([...STORE_TYPES].sort()).toEqual(Object.keys(providers).sort());
  });

  it("offer exactly the built-in credential types", () => {
    expect([...CREDENTIAL_TYPES, "client-secret"]).toEqual(TYPES);
  });

  it.each(TYPES)("are valid for each store type alone and all together (%s)", (credential) => {
    for (const stores of [...STORE_TYPES.map((type) => [type]), [...STORE_TYPES, ...STORE_TYPES]]) {
      const text = initialConfig(stores, credential);
      const config = validateConfig(parseConfigText(text, "rotator.yaml"), "rotator.yaml");
      expect(config.credential.type).toBe(credential);
      expect(config.stores.map((store) => store.type)).toEqual(stores);
      // Names and places never collide, so two of a type make two stores.
      expect(new Set(config.stores.map((store) => store.name)).size).toBe(stores.length);
      expect(text).toContain("CHANGE ME");
    }
  });

  it.each(TYPES)("name the dotenv variables an operator fills, and no optional field but as rotator's (%s)", (type) => {
    const definition = credentialTypeOf(type);
    const text = initialConfig(["dotenv-file"], type);
    const required = definition.fields.filter((field) => field.optional !== true).map((field) => field.dotenv);
    expect(text).toContain(`# The variables, if not ${required.join(", ")}:`);
    for (const field of definition.fields.filter((each) => each.optional === true)) {
      const lines = text.split("\n").filter((line) => line.includes(field.dotenv) || line.includes(field.key));
      expect(lines, field.key).toEqual([
        `    # rotator itself writes ${field.dotenv} while a rotation runs (leave it out of the file)`,
      ]);
    }
    // What its consumers answer comes from the type too.
    expect(text).toContain(`{"${definition.consumerStatus.statusField}": "…", "authenticated": true}`);
    expect(text).toContain(`$${definition.consumerStatus.expectedVariable} `);
    expect(text.split("\n")[0]).toBe(
      type === CREDENTIAL_TYPES[0]
        ? "# A rotator config, made by `rotator init dotenv-file`."
        : `# A rotator config, made by \`rotator init dotenv-file --credential ${type}\`.`,
    );
  });

  it("say of the Auth Token's previous-token variable only that rotator writes it", () => {
    expect(credentialTypeOf("auth-token").fields.some((field) => field.key === "previousAuthToken")).toBe(true);
    expect(initialConfig(["dotenv-file"], "auth-token")).toContain(
      "# rotator itself writes TWILIO_PREVIOUS_AUTH_TOKEN while a rotation runs (leave it out of the file)",
    );
  });
});
