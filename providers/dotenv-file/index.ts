import { defineProvider } from "../definition.js";
import { DotenvFileProvider } from "./provider.js";
import { dotenvFileConfigSchema } from "./schema.js";

export const dotenvFile = defineProvider({
  type: "dotenv-file",
  configSchema: dotenvFileConfigSchema,
  summary: "A dotenv file on this host (TWILIO_ACCOUNT_SID=... lines), rewritten atomically in place.",
  create: (config, environment) => new DotenvFileProvider(config, environment),
});
