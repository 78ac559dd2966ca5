/**
 * What `npm pack` ships is what an installed rotator (`npm install -g ./rotator-<version>.tgz`) runs with: the
 * launcher and the bundle it runs (dist/bundle), every compiled module (the library entry points), the
 * sandbox's app, the Twilio specs the sandbox's emulator is held to, the example config; and every package
 * the shipped code imports is a runtime dependency (a devDependency is absent from an installed tree: the
 * CLI would die with ERR_MODULE_NOT_FOUND on the first command using it). And installed from that tarball
 * into a prefix of its own, the command runs a whole sandbox rotation from a folder outside the checkout.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
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

/**
 * The sources tsconfig.build.json compiles: src/ and providers/, without tests and the contract suite. The Key
 * Vault emulator ships in the bundle only (with the Ajv it is held to its spec by), not as library modules.
 */
function compiledSources(): string[] {
  return ["src", "providers"]
    .flatMap((folder) => walk(join(root, folder)))
    .map((file) => relative(root, file))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .filter((file) => !file.startsWith("providers/contract-suite/") && !file.startsWith("src/keyvault-emulator/"));
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
  it("ships the launcher, every compiled module, the sandbox app, the emulators' specs and the example config", () => {
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
      "vendor/azure-keyvault-spec/secrets.json",
      "vendor/azure-keyvault-spec/LICENSE",
      "config/examples/rotator.example.yaml",
      "monitoring/prometheus/rotator-alerts.yaml",
      "monitoring/grafana/rotator-dashboard.json",
      "config/rotator.schema.json",
      ...compiledSources().map((file) => `dist/${file.replace(/\.ts$/, ".js")}`),
    ];
    expect(needed.filter((file) => !files.has(file))).toEqual([]);
    // Nothing of the tests, benchmarks or scripts.
    expect([...files].filter((file) => /^(test|bench|scripts|node_modules|\.cache)\//.test(file))).toEqual([]);
  });

  it("every package the compiled code imports is a runtime dependency", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // Names in the bundle that are never loaded from node_modules: Ajv's code strings for its standalone mode
    // (`require("ajv/dist/runtime/…")` inside template literals; Ajv itself is bundled with the Key Vault
    // emulator), and the AWS SDK's optional SigV4a peer, required in a try that fails as it does unbundled.
    const neverLoaded = new Set(["ajv", "ajv-formats", "@aws-sdk/signature-v4-crt"]);
    const missing = new Map<string, string>();
    for (const file of packedFiles().filter((path) => path.endsWith(".js"))) {
      for (const name of importedPackages(readFileSync(join(root, file), "utf8"))) {
        if (!(name in pkg.dependencies) && !(file.startsWith("dist/bundle/") && neverLoaded.has(name))) {
          missing.set(name, file);
        }
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
  });

  it("installed from the packed tarball, away from the checkout, runs a whole sandbox rotation", async () => {
    ensureBuilt();
    const dir = await mkdtemp(join(tmpdir(), "rotator-install-"));
    try {
      // --ignore-scripts: the tarball of what is built (vitest runs after the build); --prefer-offline: its
      // dependencies from npm's cache where the checkout's `npm ci` left them, the registry otherwise.
      execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: root, stdio: "ignore" });
      const [tarball] = readdirSync(dir).filter((name) => name.endsWith(".tgz"));
      const prefix = join(dir, "prefix");
      execFileSync(
        "npm",
        [
          "install",
          "-g",
          "--prefix",
          prefix,
          "--prefer-offline",
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          join(dir, tarball!),
        ],
        { cwd: dir, stdio: "ignore" },
      );
      const installed = join(prefix, "lib", "node_modules", "rotator");
      // It runs its own bundle, and finds the Twilio client's resource folders and the emulator's specs in
      // the installed tree, not in this checkout.
      expect(readdirSync(join(installed, "dist", "bundle"))).toContain("sandbox-app.js");
      const run = spawnSync(join(prefix, "bin", "rotator"), ["rotate", "--sandbox", "--json"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", ROTATOR_FAILPOINT: undefined, ROTATOR_CONFIG: undefined },
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as {
        status: string;
        consumers: Array<{ state: string }>;
        sandbox: { apps: Array<{ requests: number; refused: number }> };
      };
      expect(result.status).toBe("completed");
      expect(result.sandbox.apps).toHaveLength(3);
      for (const app of result.sandbox.apps) {
        expect(app.requests).toBeGreaterThan(0);
        expect(app.refused).toBe(0);
      }
      expect(result.consumers.map((consumer) => consumer.state)).toHaveLength(3);
      // What ran is the installed copy (a tarball install copies; a link would run this checkout).
      expect(realpathSync(join(prefix, "bin", "rotator"))).toBe(realpathSync(join(installed, "bin", "rotator.js")));
      // The Key Vault emulator ships too: its spec, and the Ajv that holds it to it, bundled.
      const keyVault = spawn(join(prefix, "bin", "rotator"), ["emulator", "azure-key-vault"], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const [line] = (await once(createInterface({ input: keyVault.stdout }), "line")) as [string];
        const announced = JSON.parse(line) as { vaultUrl: string; caFile: string };
        expect(announced.vaultUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        expect(await keyVaultAdmin(announced.vaultUrl, readFileSync(announced.caFile, "utf8")).health()).toBe(true);
      } finally {
        keyVault.kill("SIGTERM");
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
