/** The config's JSON Schema, generated from the Zod schema so the two can never disagree. */
import * as z from "zod";
import { configSchema } from "./schema.js";

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema(), { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ title: "rotator config", ...schema }, null, 2)}\n`;
}
