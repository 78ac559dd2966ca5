#!/bin/sh
// 2>/dev/null; exec node -- "$0" "$@"
// The two lines above are read by sh (`//` is a directory it cannot run; quietly), the rest by node, to
// which they are comments. Why sh first: node 20 scans its whole command line for `--env-file` (and
// `--env-file-if-exists`), also after the script's name, so `rotator … --env-file FILE` started as
// `node rotator.js …` would load FILE into rotator's own environment (a NODE_OPTIONS line in it runs code
// inside rotator) before rotator sees its arguments. Node stops scanning at `--`, so the command starts node
// with `--` before anything of the user's. (Run as `node bin/rotator.js …`, node reads such options before
// rotator starts; rotator then refuses to run, see src/cli/node-options.ts.)
//
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
