import * as z from "zod";
import { fieldNamesFor, storeEntryBase } from "../schema-parts.js";
import { storeFieldNames, uniqueFieldNames } from "../toolkit.js";

const variableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name: letters, digits and '_', not starting with a digit");

/**
 * Like the shared `fields`, but each name must be a variable name a dotenv file (and a shell) can hold. Its
 * description lists the default names, read from the credential types when the schema is first used.
 */
const dotenvFieldNames = fieldNamesFor(variableName, () => {
  const defaults = [...storeFieldNames("dotenv", undefined).values()];
  return `Names of the variables the credential is stored under, if not ${defaults.slice(0, -1).join(", ")} and ${defaults.at(-1)}.`;
});

export const dotenvFileConfigSchema = z
  .strictObject({
    ...storeEntryBase,
    type: z.literal("dotenv-file"),
    path: z
      .string()
      .min(1)
      .describe(
        "The dotenv file (KEY=value lines) holding the credential; a relative path is resolved against the " +
          "config file's directory. It must exist and be readable by its owner only (mode 600).",
      ),
    fields: dotenvFieldNames.optional(),
    backupDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Directory for the copy of the file kept while a rotation runs (mode 600, deleted when the run " +
          "ends); default: the file's own directory. A relative path is resolved against the config file's directory.",
      ),
  })
  .superRefine((entry, context) => {
    uniqueFieldNames(entry, "dotenv", context, "variable name");
  })
  .describe("A dotenv file on this host, rewritten in place; every other line is kept as it is.");

export type DotenvFileConfig = z.infer<typeof dotenvFileConfigSchema>;
