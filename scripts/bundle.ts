/**
 * Bundles tsc's output (dist/src, dist/providers) into what the package ships and runs:
 *
 * - dist/bundle/: the CLI, the sandbox's app and the `rotator` library entry. Why: start-up. Node 20 has no
 *   compile cache, and resolving, reading and compiling a few hundred module files (zod, yaml, the Twilio
 *   client and axios, rotator's own) is most of what a short command costs: a sandbox app starts in about
 *   0.3 s bundled against 0.45 s from separate files, and `rotate --sandbox` runs four such processes on what
 *   is often a 2-core machine (bench/startup.ts measures it). Every dynamic import() stays a dynamic import of
 *   its own chunk (splitting), so a command still loads only what it uses: `--help` loads commander and the
 *   command definitions, a config naming only dotenv files no store SDK. The store SDKs (AWS, Azure, Vault,
 *   Kubernetes) are bundled too, each in the chunks of its provider: read from a few files instead of hundreds, an
 *   emergency over four kinds of store reaches "old key refused" from process start in about half the time
 *   (bench/emergency.ts: 1.8 s against 1.0 s on a busy 2-core machine), and an installed CLI needs no SDK
 *   installed beside it. Left out, loaded from node_modules: pg (an optional peer dependency, loaded only with
 *   `state: { backend: postgres }`), and the Twilio client's resource tree (Twilio.js requires each product's
 *   folder lazily, in a getter; bundled, every one of them would be parsed at start). The AWS SDK's
 *   `require("@aws-sdk/signature-v4-crt")` (an optional peer for SigV4a, in a try) stays a runtime require
 *   that fails as it does unbundled.
 * - dist/consumer/: `rotator/consumer` as an ES module (index.js, a chunk per store provider) and as CommonJS
 *   (index.cjs, for `require()`), with CommonJS declarations (types/**.d.cts) beside tsc's ES ones. Why: an
 *   app embedding the library installs rotator and `twilio` and nothing else it does not use (zod, yaml, the
 *   CLI's packages are inside the bundles; a store's SDK comes from the app, which uses that store). `twilio`
 *   stays the app's: the client the library hands out, and its errors, are the app's own classes.
 *
 * dist/bundle/meta.json is esbuild's metafile for the CLI: which sources each chunk holds
 * (test/e2e/startup.test.ts reads it); it is not shipped.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { packageRoot } from "../src/util/package-root.js";

const root = packageRoot();
const dist = join(root, "dist");

/**
 * Packages the consumer library leaves to the app that uses them (package.json peerDependencies), and the AWS
 * SDK's own; the CLI bundles all of them but pg.
 */
const OPTIONAL_PEERS = ["@aws-sdk/*", "@smithy/*", "@azure/*", "@kubernetes/client-node", "node-vault", "pg"];

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

const common = { bundle: true, platform: "node", target: "node20", logLevel: "warning" } as const;

// --------------------------------------------------------------------------------------------- the CLI

const cliDir = join(dist, "bundle");
rmSync(cliDir, { recursive: true, force: true });
const cli = await build({
  ...common,
  entryPoints: [join(dist, "src/cli/main.js"), join(dist, "src/sandbox/sandbox-app.js"), join(dist, "src/index.js")],
  outdir: cliDir,
  // Entries and chunks side by side: the sandbox finds its app's entry next to its own chunk.
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  splitting: true,
  format: "esm",
  external: ["pg"],
  // The CommonJS packages inside (axios, yaml, the Twilio client) call require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __rotatorCreateRequire } from "node:module"; const require = __rotatorCreateRequire(import.meta.url);',
  },
  plugins: [twilioProductsFromNodeModules],
  metafile: true,
});
writeFileSync(join(cliDir, "meta.json"), JSON.stringify(cli.metafile));

// --------------------------------------------------------------------------------------------- rotator/consumer

const consumerDir = join(dist, "consumer");
rmSync(consumerDir, { recursive: true, force: true });
const consumerEntry = join(dist, "src/consumer/index.js");
const consumerExternal = [...OPTIONAL_PEERS, "twilio"];

await build({
  ...common,
  entryPoints: [consumerEntry],
  outdir: consumerDir,
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  // Each store provider in a chunk of its own, loaded when an app's store is of its type.
  splitting: true,
  format: "esm",
  external: consumerExternal,
});

await build({
  ...common,
  entryPoints: [consumerEntry],
  outfile: join(consumerDir, "index.cjs"),
  format: "cjs",
  external: consumerExternal,
  // CommonJS has no import.meta: its one use (a require() rooted at the module's own file) gets the file's URL.
  define: { "import.meta.url": "__rotatorFileUrl" },
  banner: { js: 'const __rotatorFileUrl = require("node:url").pathToFileURL(__filename).href;' },
});

writeCommonJsDeclarations(join(dist, "src/consumer/index.d.ts"), join(consumerDir, "types"));

/**
 * tsc's declarations of the library and every declaration file they import, copied under `into` as .d.cts with
 * their relative imports pointed at the copies: a `require()` of rotator/consumer is typed by CommonJS
 * declarations, which TypeScript (node16/nodenext) never lets import the package's ES ones.
 */
function writeCommonJsDeclarations(entry: string, into: string): void {
  const pending = [entry];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const text = readFileSync(file, "utf8").replace(
      /(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.js\2/g,
      (_match, keyword: string, quote: string, specifier: string) => {
        pending.push(resolve(dirname(file), `${specifier}.d.ts`));
        return `${keyword}${quote}${specifier}.cjs${quote}`;
      },
    );
    const target = join(into, relative(dist, file)).replace(/\.d\.ts$/, ".d.cts");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
}
