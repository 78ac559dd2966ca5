/**
 * Bundles the CLI and the sandbox's app (from tsc's output in dist/) into dist/bundle/, the code bin/rotator.js
 * runs. Why: start-up. Node 20 has no compile cache, and resolving, reading and compiling a few hundred
 * module files (zod, yaml, the Twilio client and axios, rotator's own) is most of what a short command costs:
 * a sandbox app starts in about 0.3 s bundled against 0.45 s from separate files, and `rotate --sandbox`
 * runs four such processes on what is often a 2-core machine (bench/startup.ts measures it).
 *
 * Every dynamic import() stays a dynamic import of its own chunk (splitting), so a command still loads only
 * what it uses: `--help` loads commander and the command definitions, a config naming only dotenv files no
 * store SDK. Left out of the bundle, loaded from node_modules as before: the store SDKs (AWS, Azure, Vault,
 * Kubernetes) and pg, which only a config naming them loads, and the Twilio client's resource tree (Twilio.js
 * requires each product's folder lazily, in a getter; bundled, every one of them would be parsed at start).
 *
 * The library entry points (`rotator`, `rotator/consumer`) stay tsc's output: an app embedding the consumer
 * library bundles it, if it wants, with its own tools. dist/bundle/meta.json is esbuild's metafile: which
 * sources each chunk holds (test/e2e/startup.test.ts reads it).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { packageRoot } from "../src/util/package-root.js";

const root = packageRoot();
const outdir = join(root, "dist", "bundle");

/** `require("./Api")` in twilio/lib/rest/Twilio.js stays a runtime require of `twilio/lib/rest/Api`. */
const twilioProductsFromNodeModules: Plugin = {
  name: "twilio-products-from-node-modules",
  setup(builder) {
    builder.onResolve({ filter: /^\.\/[A-Za-z]+$/ }, (args) =>
      /[\\/]twilio[\\/]lib[\\/]rest[\\/]Twilio\.js$/.test(args.importer)
        ? { path: `twilio/lib/rest/${args.path.slice(2)}`, external: true }
        : undefined,
    );
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(root, "dist/src/cli/main.js"), join(root, "dist/src/sandbox-app.js")],
  outdir,
  // Entries and chunks side by side: the sandbox finds its app's entry next to its own chunk.
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["@aws-sdk/*", "@smithy/*", "@azure/*", "@kubernetes/client-node", "node-vault", "pg"],
  // The CommonJS packages inside (axios, yaml, the Twilio client) call require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __rotatorCreateRequire } from "node:module"; const require = __rotatorCreateRequire(import.meta.url);',
  },
  plugins: [twilioProductsFromNodeModules],
  metafile: true,
  logLevel: "warning",
});
writeFileSync(join(outdir, "meta.json"), JSON.stringify(result.metafile));
