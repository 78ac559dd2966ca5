#!/usr/bin/env node
// Thin launcher: the CLI is compiled and bundled into dist/bundle by `npm run build` (run by `npm ci` through
// `prepare`; scripts/bundle.ts says why it is bundled).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/bundle/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("rotator: not built yet. Run `npm ci` (or `npm run build`) in the rotator folder first.\n");
  process.exit(2);
}
await import(entry.href);
