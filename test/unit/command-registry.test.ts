/**
 * The command registry (src/commands/registry.ts) is the list of the folders under src/commands/: every
 * folder's command.ts defines one command, registered under the folder's name, and nothing is registered
 * without its folder. The registry holds definitions as they are (no casts); each command's `--help` shows its
 * examples; no command's other files import its command.ts back (command.ts loads them on demand); and the
 * CLI's shared layers (fleet, notify) act on a definition's traits, never on a command's name.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runProgram } from "../../src/cli/program.js";
import type { Runtime } from "../../src/cli/runtime.js";
import { COMMANDS, SHARED_FOLDERS } from "../../src/commands/registry.js";
import { packageRoot } from "../../src/util/package-root.js";

const src = join(packageRoot(), "src");
const commandsDir = join(src, "commands");
const shared: readonly string[] = SHARED_FOLDERS;
const folders = readdirSync(commandsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !shared.includes(entry.name))
  .map((entry) => entry.name)
  .sort();

describe("the command registry matches the folders", () => {
  it("every command folder is registered, under its own name, and nothing is registered without its folder", () => {
    expect(folders.length).toBeGreaterThan(10);
    expect(COMMANDS.map((definition) => definition.name).sort()).toEqual(folders);
  });

  it("each folder's command.ts defines the very definition the registry holds", async () => {
    for (const folder of folders) {
      const file = join(commandsDir, folder, "command.ts");
      expect(existsSync(file), file).toBe(true);
      const exported: unknown[] = Object.values(await import(file));
      const registered = COMMANDS.find((definition) => definition.name === folder);
      expect(exported, folder).toContain(registered);
    }
  });

  it("the registry and defineCommand hold definitions without a cast", () => {
    for (const file of ["commands/registry.ts", "commands/shared/define-command.ts"]) {
      // Without comments and string literals (help prose says "as for every command").
      const code = readFileSync(join(src, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")
        .replace(/`[^`]*`|"[^"\n]*"/g, '""');
      expect(code, file).not.toMatch(/\bas\s+(?!const\b)[A-Za-z{[(]/);
    }
  });

  it("no file of a command imports its command.ts (which loads them on demand): no import cycle", () => {
    const cycles: string[] = [];
    for (const folder of folders) {
      for (const name of readdirSync(join(commandsDir, folder))) {
        if (name === "command.ts" || !name.endsWith(".ts")) continue;
        const text = readFileSync(join(commandsDir, folder, name), "utf8");
        if (/from "\.\/command\.js"/.test(text)) cycles.push(`${folder}/${name}`);
      }
    }
    expect(cycles).toEqual([]);
  });

  it("fleet and notify act on a definition's traits, not on command names", () => {
    const names = COMMANDS.map((definition) => definition.name).join("|");
    // Compared with, switched on, or listed (`new Set(["rotate", ...])`) by name.
    const keyedOnName = new RegExp(
      `[!=]==?\\s*"(${names})"|"(${names})"\\s*[!=]==?|case "(${names})"|\\(\\["(${names})"`,
    );
    const offenders: string[] = [];
    for (const dir of ["fleet", "notify"]) {
      for (const name of readdirSync(join(src, dir))) {
        const text = readFileSync(join(src, dir, name), "utf8");
        if (keyedOnName.test(text)) offenders.push(`${dir}/${name}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe("the commands that change stores behave alike", () => {
  it("rotate, sync, resume and rollback change stores; the others do not", () => {
    const changing = COMMANDS.filter((definition) => definition.changesStores).map((definition) => definition.name);
    expect(changing.sort()).toEqual(["resume", "rollback", "rotate", "sync"]);
  });

  it("each takes --yes and says in its --help that it asks on a terminal", async () => {
    for (const definition of COMMANDS) {
      const help = await helpOf([definition.name]);
      if (definition.changesStores) {
        expect(help, definition.name).toContain("-y, --yes");
        expect(help, definition.name).toMatch(/On a terminal, \w+ [\s\S]*?asks?[\s\S]*?exit 8/);
      } else {
        expect(help, definition.name).not.toContain("--yes");
      }
    }
  });
});

describe("every command's --help shows its examples", () => {
  it("each definition has examples, and its --help lists every one under Examples:", async () => {
    for (const definition of COMMANDS) {
      expect(definition.examples.length, definition.name).toBeGreaterThan(0);
      const help = await helpOf([definition.name]);
      const section = help.slice(help.indexOf("\nExamples:\n"));
      expect(help.indexOf("\nExamples:\n"), definition.name).toBeGreaterThan(0);
      for (const [line] of definition.examples) expect(section, definition.name).toContain(line);
    }
  });
});

describe("rotate --help on --emergency", () => {
  it("says an Auth Token's previous token is retired right after the promote, with no signing lag, and the cost", async () => {
    const help = (await helpOf(["rotate"])).replace(/\s+/g, " ");
    expect(help).toContain("an Auth Token's previous token is retired right after the promote");
    expect(help).toContain("--emergency (a leak) retires it right after the promote instead, with no signing lag");
    expect(help).toContain("webhooks Twilio signed with it before its propagation ends may be rejected");
  });
});

/** `rotator <path> --help`, in this process, as the binary prints it. */
async function helpOf(path: string[]): Promise<string> {
  let stdout = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      stdout += chunk.toString();
      done();
    },
  });
  const runtime: Runtime = {
    stdout: sink,
    stderr: new Writable({ write: (_chunk, _encoding, done) => done() }),
    stdin: new PassThrough(),
    env: {},
    cwd: packageRoot(),
    onSignal: () => () => undefined,
    hardExit: () => undefined,
  };
  expect(await runProgram([...path, "--help"], runtime)).toBe(0);
  return stdout;
}
