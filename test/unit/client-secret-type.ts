/**
 * A throw-away credential type for unit tests of what asks a type's definition (init's templates, doctor's
 * field checks): an app's client id (shaped as an API key SID) and secret (as a key secret), under its own
 * variable names, with none of the built-in types' own words (`init`, `doctor`). Registered on import; it issues
 * nothing. The end-to-end plug-in is test/fixtures/credential-types/.
 */
import * as z from "zod";
import { defineCredentialType } from "../../src/credentials/definition.js";
import { journalWord } from "../../src/credentials/journal-word.js";
import { credentialTypeOf, registerCredentialType } from "../../src/credentials/registry.js";

const { init: _apiKeysTemplate, doctor: _apiKeysWords, ...apiKey } = credentialTypeOf("api-key");

export const clientSecretType = defineCredentialType({
  ...apiKey,
  type: "client-secret",
  configSchema: z.strictObject({
    type: z.literal("client-secret"),
    maxAgeDays: z.number().default(90),
    verifyPath: z.string().default("/x"),
  }),
  labels: { ...apiKey.labels, long: "client secret", word: journalWord("client-secret") },
  fields: [
    apiKey.fields[0]!,
    { key: "clientId", secret: false, json: "clientId", dotenv: "APP_CLIENT_ID", about: "id", shape: "key-sid" },
    {
      key: "clientSecret",
      secret: true,
      json: "clientSecret",
      dotenv: "APP_CLIENT_SECRET",
      about: "secret",
      shape: "key-secret",
    },
  ],
  consumerStatus: { statusField: "clientId", expectedVariable: "ROTATOR_EXPECTED_CLIENT_ID" },
  load: async () => () => {
    throw new Error("the test's client-secret type issues nothing");
  },
});

registerCredentialType(clientSecretType);
