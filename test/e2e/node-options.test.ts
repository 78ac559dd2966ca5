/**
 * Node never reads rotator's arguments: every command of the installed command (bin/rotator.js, run as an
 * executable, as npm links it) is given every option name node has (its `--help` and
 * `process.allowedNodeEnvironmentFlags`), each pointing at a file that proves it if node acts on it:
 * as an env file it sets NODE_OPTIONS to require a marker script, as a script it writes a marker itself, as an
 * ES module it fails to load. Node scans its whole command line before running anything, so one command line
 * holding them all is read by node exactly as each alone would be. What must come back is rotator's own
 * answer (an unknown option, its help or version, exit 2 or 0), with no marker written, nothing made in the
 * working directory (profiles, reports) and nothing of node's on stderr.
 *
 * Issue #17 (7b): `doctor --env-file FILE` was also node 20's `--env-file`, which node reads even after the
 * script's name; the option is now `--dotenv`, and `--env-file` is refused with what to use instead.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import type { Runtime } from "../../src/cli/runtime.js";
import { CapturedStream, ensureBuilt, root } from "./harness.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let valueFile: string;
let markers: string[];

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rotator-node-options-"));
  const loadedAsEnvFile = join(dir, "marker-env-file");
  const requiredAsScript = join(dir, "marker-script");
  markers = [loadedAsEnvFile, requiredAsScript];
  const markerScript = join(dir, "marker.cjs");
  writeFileSync(markerScript, `require("node:fs").writeFileSync(${JSON.stringify(loadedAsEnvFile)}, "");\n`);
  // A dotenv file and a CommonJS script at once (as a script, line 1 sets a global and line 2 writes a marker).
  valueFile = join(dir, "node-acts-on-this");
  writeFileSync(
    valueFile,
    `NODE_OPTIONS="--require ${markerScript}"\n` +
      `ROTATOR_TEST_MARKER=require("node:fs").writeFileSync(${JSON.stringify(requiredAsScript)}, "")\n`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every option name node's own CLI knows: `node --help` and the flags NODE_OPTIONS may hold. */
function nodeOptionNames(): string[] {
  const help = execFileSync(process.execPath, ["--help"], { encoding: "utf8" });
  const fromHelp = help
    .split("\n")
    .filter((line) => /^ {2}-/.test(line))
    .flatMap((line) =>
      line
        .trim()
        .split(/\s{2,}/)[0]!
        .split(", "),
    )
    .map((option) => option.replace(/[=[ ].*$/, ""));
  return [...new Set([...fromHelp, ...process.allowedNodeEnvironmentFlags])]
    .filter((name) => /^--?\w/.test(name))
    .sort();
}

/** Every command path of the program (`["plan"]`, `["emulator", "twilio"]`, ...), and none (the bare program). */
function commandPaths(): string[][] {
  const runtime = {
    stdout: new CapturedStream(),
    stderr: new CapturedStream(),
    env: {},
    cwd: root,
  } as unknown as Runtime;
  const walk = (command: Command, path: string[]): string[][] => [
    path,
    ...command.commands.flatMap((sub) => walk(sub, [...path, sub.name()])),
  ];
  return walk(buildProgram(runtime, { code: 0 }), []);
}

/** bin/rotator.js as an executable (its first line decides how node is started), in an empty directory. */
function runCommand(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, "bin", "rotator.js"), args, {
      cwd,
      // The node this test runs on, and no NODE_OPTIONS of the test runner's.
      env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, HOME: dir, LANG: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Rotator answered, not node: its usage error, its refusal of a node option, its help, or its version. */
function rotatorsAnswer(run: Run): boolean {
  if (run.code === 2) {
    return /\(run `rotator --help` for the commands and options\)|is node's own option/.test(run.stderr);
  }
  return run.code === 0 && /^Usage: rotator|^rotator \d+\.\d+\.\d+ \(node /.test(run.stdout);
}

describe("node never reads rotator's arguments", () => {
  it("every command, given every node option name (as --name=FILE and as --name FILE): rotator answers, node acts on none", async () => {
    const names = nodeOptionNames();
    // The list really is node's: the options of issue #17 and a sample of the rest are in it.
    expect(names).toEqual(
      expect.arrayContaining(["--env-file", "--require", "--import", "-r", "--inspect", "--title"]),
    );
    expect(names.length).toBeGreaterThan(100);
    const commands = commandPaths();
    expect(commands).toEqual(expect.arrayContaining([[], ["doctor"], ["rotate"], ["emulator", "twilio"]]));

    // Without node's --env-file options, rotator's parser meets every other name (and refuses the first unknown
    // one); with them, rotator refuses before parsing. Node's scan sees every name either way.
    const others = names.filter((name) => !name.startsWith("--env-file"));
    const failures: string[] = [];
    for (const command of commands) {
      for (const [form, list] of [
        ["joined", others.map((name) => `${name}=${valueFile}`)],
        ["separate", others.flatMap((name) => [name, valueFile])],
        ["joined, --env-file among them", names.map((name) => `${name}=${valueFile}`)],
        ["separate, --env-file among them", names.flatMap((name) => [name, valueFile])],
      ] as const) {
        const options = [...list];
        const cwd = mkdtempSync(join(dir, "cwd-"));
        const run = await runCommand([...command, ...options], cwd);
        const what = `rotator ${command.join(" ")} (${form})`;
        if (!rotatorsAnswer(run)) failures.push(`${what}: exit ${run.code}, ${run.stderr.slice(0, 300)}`);
        if (/Debugger listening|^node:|\(node:\d+\)/m.test(run.stderr))
          failures.push(`${what}: node said ${run.stderr}`);
        if (readdirSync(cwd).length > 0) failures.push(`${what}: made ${readdirSync(cwd).join(", ")}`);
        for (const marker of markers.filter(existsSync)) {
          failures.push(`${what}: node acted (${marker})`);
          rmSync(marker);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("doctor --env-file FILE: node loads nothing, rotator refuses (exit 2) and names --dotenv; a missing file is no node exit 9", async () => {
    for (const args of [
      ["doctor", "--env-file", valueFile],
      ["doctor", `--env-file=${valueFile}`],
      ["doctor", "--env-file", join(dir, "missing.env")],
      ["doctor", `--env-file-if-exists=${valueFile}`],
    ]) {
      const run = await runCommand(args, dir);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^error: --env-file(-if-exists)? is node's own option/);
      expect(run.stderr).toContain("rotator doctor --dotenv FILE");
      expect(markers.filter(existsSync)).toEqual([]);
    }
    // The file is diagnosed with --dotenv instead (it holds no Twilio credential).
    const doctor = await runCommand(["doctor", "--dotenv", valueFile, "--offline"], dir);
    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toContain(`env file ${valueFile}`);
    expect(doctor.stdout).toContain("TWILIO_ACCOUNT_SID is not set");
    expect(markers.filter(existsSync)).toEqual([]);
  });
});
