/**
 * What `npm pack` ships is what an installed rotator runs with: the launcher and the bundles (the CLI with the
 * sandbox's app and the `rotator` library in dist/bundle; `rotator/consumer` as an ES module and as CommonJS in
 * dist/consumer), the declarations, the Twilio specs the sandbox's emulator is held to, the example config.
 * Every package the shipped code imports is a dependency (`twilio`) or an optional peer dependency (a store's
 * SDK, `pg`): a devDependency is absent from an installed tree.
 *
 * Installed from that tarball:
 * - as a command (`npm install -g`, into a prefix of its own), it runs a whole sandbox rotation from a folder
 *   outside the checkout; the store SDKs are inside its bundle, so a config naming a cloud store needs nothing
 *   installed beside it; state on PostgreSQL without `pg` is bad input naming the package; the Key Vault
 *   emulator runs from it; node reads none of its arguments;
 * - into a fresh app, `rotator/consumer` brings rotator and `twilio` and nothing else (no store SDK, no zod),
 *   and is imported with `import` and `require()`, and from TypeScript with every module resolution (node10,
 *   node16, nodenext for both module formats, bundler; declarations checked too), each program reading a
 *   dotenv store and calling Twilio (the emulator); a store whose SDK is missing is a clear error naming the
 *   package to install.
 */
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { adminClient, ensureBuilt, envText, root, startTwilioEmulator, type TwilioEmulator } from "./harness.js";

interface PackageJson {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;

function packedFiles(): string[] {
  ensureBuilt();
  // --ignore-scripts: the list of what would ship, without rebuilding first (vitest runs after the build).
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [pack] = JSON.parse(output) as Array<{ files: Array<{ path: string }> }>;
  return pack!.files.map((file) => file.path);
}

/** The CLI bundle's chunks (scripts/bundle.ts), each a file bin/rotator.js may load. */
function bundledChunks(): string[] {
  const meta = JSON.parse(readFileSync(join(root, "dist/bundle/meta.json"), "utf8")) as { outputs: object };
  return Object.keys(meta.outputs).map((path) => relative(root, join(root, path)));
}

/** Package names a module imports: static and dynamic imports, require() and createRequire(...)("name"). */
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
      // The bundles hold CommonJS packages that require Node's own modules without the node: prefix.
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

/** The packages an ES module of the package loads when imported: its static imports and its static chunks'. */
function loadedAtImport(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const code = readFileSync(join(root, file), "utf8");
  const specifiers = [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm)].map((m) => m[1]!);
  return specifiers.flatMap((specifier) =>
    specifier.startsWith("./")
      ? loadedAtImport(relative(root, join(root, file, "..", specifier)), seen)
      : specifier.startsWith("node:")
        ? []
        : [specifier],
  );
}

/** npm, quietly, from its cache where the checkout's `npm ci` left the packages, the registry otherwise. */
function npmInstall(cwd: string, args: string[]): void {
  execFileSync("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", ...args], {
    cwd,
    stdio: "ignore",
  });
}

async function packInto(dir: string): Promise<string> {
  ensureBuilt();
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: root, stdio: "ignore" });
  const [tarball] = readdirSync(dir).filter((name) => name.endsWith(".tgz"));
  return join(dir, tarball!);
}

describe("the packed package", () => {
  it("ships the launcher, the bundles, the declarations, the emulators' specs, the monitoring pack and the example config; no tsc output, maps or tests", () => {
    const files = new Set(packedFiles());
    const needed = [
      "package.json",
      "bin/rotator.js",
      "dist/bundle/main.js",
      "dist/bundle/sandbox-app.js",
      "dist/bundle/index.js",
      ...bundledChunks().filter((file) => file.endsWith(".js")),
      "dist/consumer/index.js",
      "dist/consumer/index.cjs",
      "dist/consumer/types/src/consumer/index.d.cts",
      "dist/src/consumer/index.d.ts",
      "dist/src/index.d.ts",
      "vendor/twilio-oai/twilio_api_v2010.json",
      "vendor/twilio-oai/twilio_iam_v1.json",
      "vendor/twilio-oai/twilio_accounts_v1.json",
      "vendor/twilio-oai/LICENSE",
      "vendor/azure-keyvault-spec/secrets.json",
      "vendor/azure-keyvault-spec/LICENSE",
      "monitoring/prometheus/rotator-alerts.yaml",
      "monitoring/grafana/rotator-dashboard.json",
      "config/examples/rotator.example.yaml",
      "config/rotator.schema.json",
    ];
    expect(needed.filter((file) => !files.has(file))).toEqual([]);
    // Every entry point package.json names is shipped.
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;
    const targets = (value: unknown): string[] =>
      typeof value === "string" ? [value] : Object.values(value as object).flatMap(targets);
    const entries = [manifest.main, manifest.types, manifest.exports, manifest.typesVersions].flatMap(targets);
    expect(entries.length).toBeGreaterThan(6);
    expect(entries.map((target) => target.replace(/^\.\//, "")).filter((file) => !files.has(file))).toEqual([]);
    // The bundles are what runs: tsc's own modules, source maps, the bundle's metafile, tests, benchmarks,
    // and scripts stay behind.
    expect(
      [...files].filter(
        (file) =>
          /^(test|bench|scripts|node_modules|\.cache)\//.test(file) ||
          /^dist\/(src|providers)\/.*\.js$/.test(file) ||
          file.endsWith(".map") ||
          file === "dist/bundle/meta.json",
      ),
    ).toEqual([]);
  });

  it("the `rotator` library entry exports credential-type registration, declared: a type registered after importing it parses in a config", async () => {
    ensureBuilt();
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      exports: { ".": { types: string; default: string } };
    };
    const declarations = readFileSync(join(root, manifest.exports["."].types), "utf8");
    for (const name of ["registerCredentialType", "defineCredentialType", "journalWord", "credentialTypeOf"]) {
      expect(declarations, name).toMatch(new RegExp(`\\b${name}\\b`));
    }
    for (const type of ["CredentialTypeDefinition", "CredentialTypeSpec", "Issuer", "StoredCredential"]) {
      expect(declarations, type).toMatch(new RegExp(`\\btype ${type}\\b|\\b${type}\\b,`));
    }
    // A plug-in as an app writes it: import the package's entry, define a type (its own zod), register it, then
    // load a config naming it.
    const dir = await mkdtemp(join(tmpdir(), "rotator-plugin-"));
    try {
      const entry = pathToFileURL(join(root, manifest.exports["."].default)).href;
      const zod = pathToFileURL(join(root, "node_modules", "zod", "index.js")).href;
      await writeFile(
        join(dir, "rotator.yaml"),
        [
          "version: 1",
          "twilio: { accountSid: AC00000000000000000000000000000000, admin: { authToken: { env: ADMIN } } }",
          "credential: { type: client-secret, maxAgeDays: 30 }",
          "stores: [{ name: app, type: dotenv-file, path: app.env }]",
          "",
        ].join("\n"),
      );
      const plugin = [
        `import * as z from ${JSON.stringify(zod)};`,
        `import * as rotator from ${JSON.stringify(entry)};`,
        'const apiKey = rotator.credentialTypeOf("api-key");',
        "const { maxAgeDays, verifyPath } = rotator.credentialSchemaParts;",
        "rotator.registerCredentialType(rotator.defineCredentialType({",
        "  ...apiKey,",
        '  type: "client-secret",',
        '  configSchema: z.strictObject({ type: z.literal("client-secret"), maxAgeDays: maxAgeDays("client secret"), verifyPath: verifyPath("/x", "client secret") }),',
        '  labels: { ...apiKey.labels, word: rotator.journalWord("client-secret") },',
        "  load: async () => () => { throw new Error('not issued in this test'); },",
        "}));",
        'const { config } = await rotator.loadConfig("rotator.yaml", { ADMIN: "x" });',
        "process.stdout.write(JSON.stringify(config.credential));",
        "",
      ].join("\n");
      await writeFile(join(dir, "plugin.mjs"), plugin);
      const run = spawnSync(process.execPath, ["plugin.mjs"], { cwd: dir, encoding: "utf8" });
      expect(run.stderr).toBe("");
      expect(JSON.parse(run.stdout)).toEqual({ type: "client-secret", maxAgeDays: 30, verifyPath: "/x" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("every package the shipped code imports is a dependency or an optional peer; the consumer's entries load none of the peers", () => {
    const peers = Object.keys(pkg.peerDependencies);
    // The store SDKs and pg, each optional, each pinned for development at a version its range accepts.
    expect(peers.sort()).toEqual([
      "@aws-sdk/client-secrets-manager",
      "@azure/identity",
      "@azure/keyvault-secrets",
      "@kubernetes/client-node",
      "node-vault",
      "pg",
    ]);
    for (const peer of peers) {
      expect(pkg.peerDependenciesMeta[peer]?.optional, peer).toBe(true);
      expect(pkg.peerDependencies[peer], peer).toBe(`^${pkg.devDependencies[peer]}`);
    }
    // Names in the CLI bundle that are never loaded from node_modules: Ajv's code strings for its standalone
    // mode (`require("ajv/dist/runtime/…")` inside template literals; Ajv itself is bundled with the Key Vault
    // emulator), and the AWS SDK's optional SigV4a peer, required in a try that fails as it does unbundled.
    const neverLoaded = new Set(["ajv", "ajv-formats", "@aws-sdk/signature-v4-crt"]);
    const unknown = new Map<string, string>();
    for (const file of packedFiles().filter((path) => /\.c?js$/.test(path))) {
      for (const name of importedPackages(readFileSync(join(root, file), "utf8"))) {
        // The AWS SDK's own packages come with it.
        const known =
          name in pkg.dependencies ||
          peers.includes(name) ||
          name.startsWith("@smithy/") ||
          (file.startsWith("dist/bundle/") && neverLoaded.has(name));
        if (!known) unknown.set(name, file);
      }
    }
    expect(Object.fromEntries(unknown)).toEqual({});
    // What `rotator/consumer` loads before a store is created: `twilio`, no peer (each provider's chunk, or
    // the lazily run part of the CommonJS file, loads its own SDK when an app's store is of its type).
    expect(loadedAtImport("dist/consumer/index.js").filter((name) => !name.startsWith("twilio/"))).toEqual([]);
    const cjs = readFileSync(join(root, "dist/consumer/index.cjs"), "utf8");
    const topLevelRequires = [...cjs.matchAll(/^var \w+ = (?:__toESM\()?require\("([^"]+)"\)/gm)].map((m) => m[1]!);
    expect(topLevelRequires.length).toBeGreaterThan(0);
    expect(topLevelRequires.filter((name) => !name.startsWith("twilio/") && !name.startsWith("node:"))).toEqual([]);
  });

  it("installed as a command, away from the checkout: a whole sandbox rotation; cloud stores with no SDK installed; pg missing is exit 2 naming it; the Key Vault emulator; node reads no argument", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rotator-install-"));
    try {
      const tarball = await packInto(dir);
      const prefix = join(dir, "prefix");
      npmInstall(dir, ["-g", "--prefix", prefix, tarball]);
      const installed = join(prefix, "lib", "node_modules", "rotator");
      // No store SDK came with it.
      expect(readdirSync(join(prefix, "lib", "node_modules"))).toEqual(["rotator"]);
      expect(existsSync(join(installed, "node_modules", "@aws-sdk"))).toBe(false);
      // It runs its own bundle, and finds the Twilio client's resource folders and the emulator's specs in
      // the installed tree, not in this checkout.
      expect(readdirSync(join(installed, "dist", "bundle"))).toContain("sandbox-app.js");
      const env = { ...process.env, NO_COLOR: "1", ROTATOR_FAILPOINT: undefined, ROTATOR_CONFIG: undefined };
      const rotator = (args: string[], extraEnv: Record<string, string> = {}) =>
        spawnSync(join(prefix, "bin", "rotator"), args, {
          cwd: dir,
          encoding: "utf8",
          env: { ...env, ...extraEnv },
          timeout: 60_000,
        });
      const run = rotator(["rotate", "--sandbox", "--json"]);
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

      // A config with an AWS store: its SDK is in the bundle, so the store is reached for (and found down)
      // with nothing installed beside rotator.
      const config = join(dir, "aws.yaml");
      await writeFile(
        config,
        [
          "version: 1",
          "twilio: { accountSid: AC00000000000000000000000000000000, admin: { authToken: { env: ADMIN_TOKEN } }, baseUrl: 'http://127.0.0.1:9' }",
          "credential: { type: api-key }",
          "stores:",
          "  - { name: prod-aws, type: aws-secrets-manager, secretId: prod/twilio, region: us-east-1 }",
          "",
        ].join("\n"),
      );
      const planned = rotator(["plan", "--config", config, "--state-dir", join(dir, "state")], {
        ADMIN_TOKEN: "0".repeat(32),
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:9",
      });
      expect(planned.status, planned.stderr).toBe(2);
      expect(planned.stdout + planned.stderr).not.toContain("not installed");
      expect(planned.stdout + planned.stderr).toMatch(/prod-aws.*(unreachable|ECONNREFUSED|no answer)/);
      expect(readdirSync(join(prefix, "lib", "node_modules"))).toEqual(["rotator"]);
      // State on PostgreSQL without pg: the same kind of answer.
      await writeFile(
        config,
        [
          "version: 1",
          "twilio: { accountSid: AC00000000000000000000000000000000, admin: { authToken: { env: ADMIN_TOKEN } }, baseUrl: 'http://127.0.0.1:9' }",
          "credential: { type: api-key }",
          "state: { backend: postgres, url: { env: DATABASE_URL } }",
          "stores:",
          `  - { name: app, type: dotenv-file, path: ${join(dir, "app.env")} }`,
          "",
        ].join("\n"),
      );
      const pgPlan = rotator(["plan", "--config", config], {
        ADMIN_TOKEN: "0".repeat(32),
        DATABASE_URL: "postgres://rotator@127.0.0.1:9/rotator",
      });
      expect(pgPlan.status, pgPlan.stderr).toBe(2);
      expect(pgPlan.stderr).toContain("state: backend: postgres");
      expect(pgPlan.stderr).toContain(`needs the package pg: it is not installed`);
      expect(pgPlan.stderr).toContain(`npm install -g pg@${pkg.devDependencies.pg}`);

      // The installed command keeps node away from its arguments: an env file node would load runs nothing.
      const marker = join(dir, "node-acted");
      const envFile = join(dir, "node.env");
      await writeFile(join(dir, "marker.cjs"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")\n`);
      await writeFile(envFile, `NODE_OPTIONS="--require ${join(dir, "marker.cjs")}"\n`);
      const doctor = rotator(["doctor", `--env-file=${envFile}`]);
      expect(doctor.status).toBe(2);
      expect(doctor.stderr).toContain("rotator doctor --dotenv FILE");
      expect(existsSync(marker)).toBe(false);

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
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------------------

/** The app's program: one source, compiled in each mode (and its JavaScript twins). */
const APP_SOURCE = `import { TwilioCredentials, type TwilioWebhookValidator, type ConsumerStatus } from "rotator/consumer";

// Checked with the declarations only (this app's store holds an API key): an Auth Token store's webhook validator.
export const webhooksOf = (credentials: TwilioCredentials): TwilioWebhookValidator =>
  credentials.webhookValidator({ publicOrigin: "https://app.example.com" });
export const tokensOf = (credentials: TwilioCredentials): Promise<string[]> => credentials.webhookTokens();
export const validatesWith = (status: ConsumerStatus): string[] | undefined => status.webhookTokenFingerprints;

async function main(): Promise<void> {
  const [path, twilioBaseUrl, accountSid] = process.argv.slice(2) as [string, string, string];
  const credentials = new TwilioCredentials({ store: { name: "app", type: "dotenv-file", path }, twilioBaseUrl });
  const keySid: string = await credentials.currentId();
  const page = await credentials.withClient((client) => client.api.v2010.accounts(accountSid).messages.list({ limit: 1 }));
  const status: ConsumerStatus = credentials.status();
  await credentials.close();
  console.log(JSON.stringify({ keySid, listed: Array.isArray(page), status }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`;

/** The same in JavaScript, as an ES module and as CommonJS. */
const js = (load: string) => `${load}
const [path, twilioBaseUrl, accountSid] = process.argv.slice(2);
const credentials = new TwilioCredentials({ store: { name: "app", type: "dotenv-file", path }, twilioBaseUrl });
credentials.currentId().then(async (keySid) => {
  const page = await credentials.withClient((client) => client.api.v2010.accounts(accountSid).messages.list({ limit: 1 }));
  const status = credentials.status();
  await credentials.close();
  console.log(JSON.stringify({ keySid, listed: Array.isArray(page), status }));
});
`;

/** A store whose SDK the app did not install: what the first read says. */
const missingSdk = (load: string, store: string) => `${load}
const credentials = new TwilioCredentials({ store: ${store}, env: {} });
credentials.current().then(
  () => console.log(JSON.stringify({ read: true })),
  (error) => console.log(JSON.stringify({ name: error.name, message: error.message })),
);
`;

/** Each module resolution, with the module setting it goes with and the file extension giving the format. */
const MODES = [
  { name: "node10", module: "commonjs", resolution: "node10", source: "app.ts", output: "app.js" },
  { name: "node16, CommonJS", module: "node16", resolution: "node16", source: "app.cts", output: "app.cjs" },
  { name: "node16, ES module", module: "node16", resolution: "node16", source: "app.mts", output: "app.mjs" },
  { name: "nodenext, CommonJS", module: "nodenext", resolution: "nodenext", source: "app.cts", output: "app.cjs" },
  { name: "nodenext, ES module", module: "nodenext", resolution: "nodenext", source: "app.mts", output: "app.mjs" },
  { name: "bundler", module: "esnext", resolution: "bundler", source: "app.mts", output: "app.mjs" },
] as const;

describe("rotator/consumer installed into a fresh app", () => {
  let dir: string;
  let app: string;
  let emulator: TwilioEmulator;
  let keySid: string;
  let storeFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rotator-app-"));
    app = join(dir, "app");
    await mkdir(app);
    await writeFile(join(app, "package.json"), `${JSON.stringify({ name: "app", version: "1.0.0", private: true })}\n`);
    npmInstall(app, [
      await packInto(dir),
      `typescript@${pkg.devDependencies.typescript}`,
      `@types/node@${pkg.devDependencies["@types/node"]}`,
    ]);
    emulator = await startTwilioEmulator({ port: 0 });
    const key = await adminClient(emulator)
      .api.v2010.accounts(emulator.accountSid)
      .newKeys.create({ friendlyName: "package-test" });
    keySid = key.sid;
    storeFile = join(dir, "twilio.env");
    await writeFile(storeFile, envText(emulator.accountSid, key.sid, key.secret, "app"), { mode: 0o600 });
  }, 240_000);

  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs one of the app's programs (not spawnSync: the emulator answering it lives in this process). */
  function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [file, storeFile, emulator.baseUrl, emulator.accountSid],
        { cwd: app, encoding: "utf8", env: { PATH: process.env.PATH, HOME: dir }, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error !== null && typeof error.code !== "number") reject(error);
          else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
        },
      );
    });
  }

  function expectWorked(what: string, ran: Awaited<ReturnType<typeof run>>): void {
    expect(ran.code, `${what}: ${ran.stderr}`).toBe(0);
    expect(JSON.parse(ran.stdout), what).toEqual({
      keySid,
      listed: true,
      status: {
        keySid,
        authenticated: true,
        store: { readFailures: 0, consecutiveFailures: 0, lastReadAt: expect.any(String) },
      },
    });
  }

  let compilations: Promise<Map<(typeof MODES)[number], { folder: string; code: number; output: string }>> | undefined;

  /**
   * The app's program compiled once per mode, two compilers at a time (each reads the declarations of every
   * one of twilio's products, tens of seconds apiece; more at once only thrash a small machine).
   */
  function compiledInEachMode() {
    compilations ??= (async () => {
      const results = new Map<(typeof MODES)[number], { folder: string; code: number; output: string }>();
      const queue = [...MODES];
      const worker = async () => {
        for (let mode = queue.shift(); mode !== undefined; mode = queue.shift()) {
          results.set(mode, await compile(mode));
        }
      };
      await Promise.all([worker(), worker()]);
      return results;
    })();
    return compilations;
  }

  async function compile(mode: (typeof MODES)[number]) {
    const folder = join(app, `ts-${mode.name.replace(/\W+/g, "-")}`);
    await mkdir(folder);
    await writeFile(join(folder, mode.source), APP_SOURCE);
    await writeFile(
      join(folder, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: mode.module,
          moduleResolution: mode.resolution,
          target: "es2022",
          strict: true,
          // twilio's own declarations need it in a CommonJS project; the app's libraries' are checked too.
          esModuleInterop: true,
          skipLibCheck: false,
          types: ["node"],
          outDir: "out",
        },
        files: [mode.source],
      }),
    );
    return new Promise<{ folder: string; code: number; output: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(app, "node_modules/typescript/bin/tsc"), "-p", folder],
        { cwd: folder },
        (error, stdout, stderr) =>
          resolve({ folder, code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }),
      ),
    );
  }

  it("brings rotator and twilio's own tree, nothing else: no store SDK, no pg, no zod, none of the CLI's packages", () => {
    const installed = readdirSync(join(app, "node_modules"));
    expect(installed).toContain("rotator");
    expect(installed).toContain("twilio");
    for (const absent of [
      "@aws-sdk",
      "@azure",
      "@smithy",
      "node-vault",
      "pg",
      "zod",
      "yaml",
      "commander",
      "p-retry",
      "prom-client",
    ]) {
      expect(installed, absent).not.toContain(absent);
    }
  });

  it("import and require() read a dotenv store and call Twilio", async () => {
    await writeFile(join(app, "esm.mjs"), js('import { TwilioCredentials } from "rotator/consumer";'));
    await writeFile(join(app, "cjs.cjs"), js('const { TwilioCredentials } = require("rotator/consumer");'));
    expectWorked("import", await run(join(app, "esm.mjs")));
    expectWorked("require()", await run(join(app, "cjs.cjs")));
  });

  it.each(MODES)(
    "TypeScript, moduleResolution $resolution ($name): checked with the declarations, run",
    async (mode) => {
      const compiled = await compiledInEachMode();
      const tsc = compiled.get(mode)!;
      expect(tsc.code, tsc.output).toBe(0);
      expectWorked(mode.name, await run(join(tsc.folder, "out", mode.output)));
    },
    // The first waits for every compile (about a minute each on a busy 2-core machine, two at a time).
    600_000,
  );

  it("a store whose SDK is not installed: a TwilioCredentialError naming the package and how to install it", async () => {
    const stores = {
      "@aws-sdk/client-secrets-manager":
        '{ name: "prod", type: "aws-secrets-manager", secretId: "prod/twilio", region: "us-east-1" }',
      "node-vault":
        '{ name: "prod", type: "vault-kv2", address: "http://127.0.0.1:8200", mount: "secret", path: "twilio", auth: { method: "token", token: { env: "VAULT_TOKEN" } } }',
    };
    for (const [packageName, store] of Object.entries(stores)) {
      await writeFile(
        join(app, "missing.mjs"),
        missingSdk('import { TwilioCredentials } from "rotator/consumer";', store),
      );
      await writeFile(
        join(app, "missing.cjs"),
        missingSdk('const { TwilioCredentials } = require("rotator/consumer");', store),
      );
      for (const file of ["missing.mjs", "missing.cjs"]) {
        const ran = await run(join(app, file));
        expect(ran.code, ran.stderr).toBe(0);
        const said = JSON.parse(ran.stdout) as { name: string; message: string };
        expect(said.name, file).toBe("TwilioCredentialError");
        expect(said.message, file).toContain(`which needs the package ${packageName}: it is not installed`);
        expect(said.message, file).toContain(`npm install ${packageName}@${pkg.devDependencies[packageName]}`);
      }
    }
  });
});
