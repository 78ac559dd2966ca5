/**
 * What `npm pack` ships is what an installed rotator (`npm install -g ./rotator-<version>.tgz`) runs with: the
 * launcher and the bundle it runs (dist/bundle), every compiled module (the library entry points), the
 * sandbox's app, the Twilio specs the sandbox's emulator is held to, the example config; and every package
 * the shipped code imports is a runtime dependency (a devDependency is absent from an installed tree: the
 * CLI would die with ERR_MODULE_NOT_FOUND on the first command using it).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureBuilt, root } from "./harness.js";

interface PackedFile {
  path: string;
}

function packedFiles(): string[] {
  ensureBuilt();
  // --ignore-scripts: the list of what would ship, without rebuilding first (vitest runs after the build).
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [pack] = JSON.parse(output) as Array<{ files: PackedFile[] }>;
  return pack!.files.map((file) => file.path);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The sources tsconfig.build.json compiles: src/ and providers/, without tests and the contract suite. */
function compiledSources(): string[] {
  return ["src", "providers"]
    .flatMap((folder) => walk(join(root, folder)))
    .map((file) => relative(root, file))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .filter((file) => !file.startsWith("providers/contract-suite/"));
}

/** The bundle's chunks (scripts/bundle.ts), each a file bin/rotator.js may load. */
function bundledChunks(): string[] {
  const meta = JSON.parse(readFileSync(join(root, "dist/bundle/meta.json"), "utf8")) as { outputs: object };
  return Object.keys(meta.outputs).map((path) => relative(root, join(root, path)));
}

/** Package names a compiled module imports: static and dynamic imports, and createRequire(...)("name"). */
function importedPackages(code: string): string[] {
  const specifiers = [
    ...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm),
    ...code.matchAll(/^\s*import\s*"([^"]+)"/gm),
    ...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
    ...code.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g),
    ...code.matchAll(/createRequire\([^)]*\)\(\s*"([^"]+)"/g),
  ].map((match) => match[1]!);
  return (
    specifiers
      // The bundle holds CommonJS packages that require Node's own modules without the node: prefix.
      .filter((specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:"))
      .filter((specifier) => !builtinModules.includes(specifier.split("/")[0]!))
      .map((specifier) =>
        specifier
          .split("/")
          .slice(0, specifier.startsWith("@") ? 2 : 1)
          .join("/"),
      )
  );
}

describe("the packed package", () => {
  it("ships the launcher, every compiled module, the sandbox app, the Twilio specs and the example config", () => {
    const files = new Set(packedFiles());
    const needed = [
      "package.json",
      "bin/rotator.js",
      "dist/bundle/main.js",
      "dist/bundle/sandbox-app.js",
      ...bundledChunks(),
      "dist/src/cli/main.js",
      "dist/src/sandbox-app.js",
      "dist/src/consumer/index.js",
      "dist/src/consumer/index.d.ts",
      "vendor/twilio-oai/twilio_api_v2010.json",
      "vendor/twilio-oai/twilio_iam_v1.json",
      "vendor/twilio-oai/twilio_accounts_v1.json",
      "vendor/twilio-oai/LICENSE",
      "config/examples/rotator.example.yaml",
      "config/rotator.schema.json",
      ...compiledSources().map((file) => `dist/${file.replace(/\.ts$/, ".js")}`),
    ];
    expect(needed.filter((file) => !files.has(file))).toEqual([]);
    // Nothing of the tests, benchmarks, scripts or the Key Vault test server's spec.
    expect(
      [...files].filter((file) =>
        /^(test|bench|scripts|node_modules|\.cache|vendor\/azure-keyvault-spec)\//.test(file),
      ),
    ).toEqual([]);
  });

  it("every package the compiled code imports is a runtime dependency", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const missing = new Map<string, string>();
    for (const file of packedFiles().filter((path) => path.endsWith(".js"))) {
      for (const name of importedPackages(readFileSync(join(root, file), "utf8"))) {
        if (!(name in pkg.dependencies)) missing.set(name, file);
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
  });
});
