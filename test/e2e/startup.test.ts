/**
 * Start-up cost, checked by what each process loads rather than by a clock (a shared machine's timings are
 * noise; bench/startup.ts prints them as ratios): `--help` and `version` load commander and rotator's own
 * command definitions only; a sandbox rotation whose stderr is no terminal loads no store SDK its config does
 * not name and no live-block library, and the Twilio SDK without its package index (TwiML, JWT, webhooks);
 * no process loads the SDK's 2010 resource tree (the issuer and the apps use the client's generic request).
 * The CLI runs as a bundle (scripts/bundle.ts): a chunk it loads counts as loading every source esbuild put
 * in it (dist/bundle/meta.json).
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureBuilt, root, runCli } from "./harness.js";

const HOOK = join(root, "test", "fixtures", "trace-modules.mjs");

interface Traced {
  /** The script the process ran. */
  script: string;
  /** The packages it loaded anything of (scoped ones as @scope/name). */
  packages: Set<string>;
  files: string[];
  /** The bundle's chunks it loaded (dist/bundle/…). */
  chunks: string[];
}

/**
 * A file loaded, or, for a chunk of the bundle bin/rotator.js runs (scripts/bundle.ts), the source files
 * bundled into it: what a process loads is then what is in the chunks it loads.
 */
function bundledSources(file: string): string[] {
  const chunk = relative(root, file);
  if (!chunk.startsWith(`dist${sep}bundle${sep}`)) return [file];
  const inputs = bundleMeta().outputs[chunk.split(sep).join("/")]?.inputs;
  if (inputs === undefined) throw new Error(`${chunk} is not in dist/bundle/meta.json: rebuild (npm run build)`);
  return Object.keys(inputs).map((input) => join(root, input));
}

let meta: { outputs: Record<string, { inputs: Record<string, unknown> }> } | undefined;
const bundleMeta = () => {
  meta ??= JSON.parse(readFileSync(join(root, "dist", "bundle", "meta.json"), "utf8")) as NonNullable<typeof meta>;
  return meta;
};

/** Run the CLI with every process's module loads recorded; one entry per process. */
async function traced(args: string[]): Promise<Traced[]> {
  ensureBuilt();
  const dir = await mkdtemp(join(tmpdir(), "rotator-trace-"));
  try {
    const run = await runCli(args, {
      env: {
        ...process.env,
        ROTATOR_FAILPOINT: undefined,
        TRACE_MODULES_DIR: dir,
        NODE_OPTIONS: `--import ${HOOK}`,
      },
    });
    expect(run.code, run.stderr).toBe(0);
    return await Promise.all(
      (await readdir(dir)).map(async (name) => {
        const [script = "", ...loaded] = (await readFile(join(dir, name), "utf8")).trim().split("\n");
        const files = loaded.flatMap(bundledSources);
        const packages = new Set(
          files.flatMap((file) => {
            const match = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
            return match === null ? [] : [match[1]!];
          }),
        );
        const chunks = loaded.filter((file) => relative(root, file).startsWith(`dist${sep}bundle${sep}`));
        return { script, packages, files, chunks };
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const STORE_SDKS = ["@aws-sdk/client-secrets-manager", "@azure/keyvault-secrets", "@azure/identity", "node-vault"];
const twilioIndex = (files: string[]) => files.some((file) => file.endsWith("/node_modules/twilio/lib/index.js"));

describe("start-up: what each process loads", () => {
  for (const args of [["--help"], ["version"], ["rotate", "--help"]]) {
    it(`rotator ${args.join(" ")} loads commander and rotator's command definitions, nothing else`, async () => {
      const processes = await traced(args);
      expect(processes).toHaveLength(1);
      expect([...processes[0]!.packages]).toEqual(["commander"]);
    });
  }

  it("rotate --sandbox: no store SDK, no live block off a terminal, the Twilio client without the package index", async () => {
    const processes = await traced(["rotate", "--sandbox", "--json"]);
    const cli = processes.filter((p) => p.script.endsWith("bin/rotator.js"));
    const apps = processes.filter((p) => p.script.endsWith("sandbox-app.js"));
    expect([cli.length, apps.length]).toEqual([1, 3]);
    // What runs is the bundle (scripts/bundle.ts): the CLI's chunks, and the apps' entry beside them.
    for (const { chunks } of cli) expect(chunks).toContain(join(root, "dist", "bundle", "main.js"));
    for (const { script } of apps) expect(script).toBe(join(root, "dist", "bundle", "sandbox-app.js"));
    for (const { packages, files } of [...cli, ...apps]) {
      for (const sdk of STORE_SDKS) expect(packages.has(sdk), sdk).toBe(false);
      expect(packages.has("log-update")).toBe(false);
      expect(packages.has("twilio")).toBe(true);
      expect(twilioIndex(files)).toBe(false);
      expect(packages.has("xmlbuilder")).toBe(false);
    }
    // The apps and rotator's API-key issuer make their calls through the client's generic request
    // (src/twilio/v2010-keys.ts): the 2010 resource tree stays unloaded in every process.
    for (const { files } of [...cli, ...apps]) {
      expect(files.some((file) => file.includes("/twilio/lib/rest/api/v2010/"))).toBe(false);
    }
  });
});
