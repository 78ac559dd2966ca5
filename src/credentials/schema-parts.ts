/** Zod pieces every credential type's `credential:` section shares. */
import * as z from "zod";

export const maxAgeDays = (noun: string) =>
  z.number().int().min(1).max(3650).default(90).describe(`Rotate when the ${noun} is older (--if-due).`);

export const verifyPath = (defaultPath: string, what: string) =>
  z
    .string()
    .regex(
      /^\/[^\s?#]*(\?[^\s#]*)?$/,
      "must be an absolute path such as /2010-04-01/Accounts/{AccountSid}/Messages.json",
    )
    .default(defaultPath)
    .describe(`A GET the ${what} may call to prove it authenticates. {AccountSid} is filled in.`);
