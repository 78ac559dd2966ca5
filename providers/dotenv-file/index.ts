import { defineProvider } from "../definition.js";
import { dotenvFileConfigSchema } from "./schema.js";

/** The variables of a dotenv file as this store reads them: `rotator doctor` reads env files the same way. */
export { dotenvValues } from "./dotenv-format.js";

export const dotenvFile = defineProvider({
  type: "dotenv-file",
  configSchema: dotenvFileConfigSchema,
  summary: "A dotenv file on this host (TWILIO_ACCOUNT_SID=... lines), rewritten atomically in place.",
  packages: [],
  // The provider (and its SDK) loads only when a config names this type: `rotator --help` and a
  // dotenv-only rotation never pay for SDKs they do not use.
  load: async () => {
    const { DotenvFileProvider } = await import("./provider.js");
    return (config, environment) => new DotenvFileProvider(config, environment);
  },
});
