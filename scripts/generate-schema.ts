/**
 * Writes config/rotator.schema.json from the Zod schema, for editors (`$schema: ./rotator.schema.json`).
 * A unit test fails when the committed file is out of date: run `npm run schema`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configJsonSchema } from "../src/config/json-schema.js";
import { packageRoot } from "../src/util/package-root.js";

const target = join(packageRoot(), "config", "rotator.schema.json");
writeFileSync(target, configJsonSchema());
process.stdout.write(`wrote ${target}\n`);
