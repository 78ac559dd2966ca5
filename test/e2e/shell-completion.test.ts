/**
 * `rotator completion bash|zsh|fish`, each script loaded into its real shell and asked what it completes:
 * bash through its completion function (COMP_WORDS in, COMPREPLY out), fish through `complete -C`, zsh through
 * its function with the completion system's output builtins stubbed (no terminal to drive), plus zsh's own
 * `compinit` finding it on $fpath. zsh and fish are Debian's, unpacked into the servers' cache.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debianTool, type InstalledTool } from "../harness/debian-tools.js";
import { runCli, useE2e } from "./harness.js";

const execFileAsync = promisify(execFile);
useE2e();

let dir: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rotator-completion-"));
  // Files to complete, in the directory the shells run in.
  await writeFile(join(dir, "rotator.yaml"), "version: 1\n");
  for (const shell of ["bash", "zsh", "fish"]) {
    const run = await runCli(["completion", shell], { env: process.env });
    expect(run.code, run.stderr).toBe(0);
    scripts[shell] = join(dir, `rotator.${shell}`);
    await writeFile(scripts[shell]!, run.stdout);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The words typed, the last one being completed: what each shell offers, one per line. */
type Ask = (...words: string[]) => Promise<string[]>;

const CASES: Array<{ words: string[]; expected: string[]; exact?: boolean }> = [
  { words: ["rotator", "pl"], expected: ["plan"], exact: true },
  {
    words: ["rotator", ""],
    expected: ["plan", "rotate", "resume", "rollback", "status", "init", "validate", "emulator", "completion"],
  },
  { words: ["rotator", "emulator", ""], expected: ["twilio", "azure-key-vault"], exact: true },
  { words: ["rotator", "emulator", "twilio", "--cl"], expected: ["--clock-offset"], exact: true },
  { words: ["rotator", "rotate", "--if"], expected: ["--if-due"], exact: true },
  { words: ["rotator", "init", "--credential", ""], expected: ["api-key", "auth-token"], exact: true },
  { words: ["rotator", "rotate", "--sandbox", "--credential", ""], expected: ["api-key", "auth-token"], exact: true },
  {
    words: ["rotator", "init", ""],
    expected: ["dotenv-file", "vault-kv2", "aws-secrets-manager", "azure-key-vault", "kubernetes-secret"],
    exact: true,
  },
  { words: ["rotator", "completion", ""], expected: ["bash", "zsh", "fish"], exact: true },
  // An option's value is skipped: the subcommand after it still counts.
  {
    words: ["rotator", "emulator", "twilio", "--port", "4010", "--sub"],
    expected: ["--subaccounts", "--subaccount-prefix"],
  },
  // Files where a file goes.
  {
    words: ["rotator", "plan", "--config", "rot"],
    expected: ["rotator.yaml", "rotator.bash", "rotator.zsh", "rotator.fish"],
  },
];

function expectOffers(offered: string[], expected: string[], exact = false): void {
  if (exact) expect([...offered].sort()).toEqual([...expected].sort());
  else expect(offered).toEqual(expect.arrayContaining(expected));
}

describe.each<{ shell: string; ask: () => Promise<Ask> }>([
  {
    shell: "bash",
    ask:
      async () =>
      async (...words) => {
        const script = `source ${JSON.stringify(scripts.bash)}
COMP_WORDS=(${words.map((word) => JSON.stringify(word)).join(" ")}); COMP_CWORD=${words.length - 1}
_rotator; printf '%s\\n' "\${COMPREPLY[@]}"`;
        const { stdout } = await execFileAsync("bash", ["-c", script], { cwd: dir });
        return stdout.split("\n").filter(Boolean);
      },
  },
  {
    shell: "fish",
    ask: async () => {
      const fish = await debianTool("fish");
      return async (...words) => {
        const { stdout } = await execFileAsync(
          fish.bin,
          [
            "--no-config",
            "-c",
            // Debian's fish looks for its own functions under /usr/share: point it at the unpacked ones.
            `set fish_function_path ${join(fish.root, "usr/share/fish/functions")} $fish_function_path; source ${scripts.fish}; complete -C ${JSON.stringify(words.join(" "))}`,
          ],
          { cwd: dir, env: { ...process.env, ...fish.env } },
        );
        return stdout
          .split("\n")
          .filter(Boolean)
          .map((line) => line.split("\t")[0]!);
      };
    },
  },
  {
    shell: "zsh",
    ask: async () => {
      const zsh = await debianTool("zsh");
      return async (...words) => {
        // The completion system's builtins, stubbed to print what the function offers, one per line.
        const script = `compdef() { :; }
compadd() { [[ $1 == -a ]] && print -rl -- \${(P)2}; }
_describe() { local name; for name in \${(P)\${@[-1]}}; do print -r -- \${name%%:*}; done; }
_files() { print -rl -- *(N\${1:+/}); }
source ${scripts.zsh}
words=(${words.map((word) => `'${word}'`).join(" ")}); CURRENT=${words.length}
_rotator`;
        const { stdout } = await execFileAsync(zsh.bin, ["-f", "-c", script], { cwd: dir, env: { ...process.env } });
        // _files offers every file; a real zsh then matches the prefix typed.
        const prefix = words.at(-1) ?? "";
        return stdout.split("\n").filter((line) => line !== "" && line.startsWith(prefix));
      };
    },
  },
])("$shell", ({ ask }) => {
  let query: Ask;
  beforeAll(async () => {
    query = await ask();
  });

  it.each(CASES.map((c) => ({ ...c, typed: `${c.words.join(" ")}<TAB>` })))(
    "$typed",
    async ({ words, expected, exact }) => {
      expectOffers(await query(...words), expected, exact);
    },
  );
});

describe("the scripts as their shells read them", () => {
  let zsh: InstalledTool;
  let fish: InstalledTool;
  beforeAll(async () => {
    [zsh, fish] = await Promise.all([debianTool("zsh"), debianTool("fish")]);
  });

  it("parse (bash -n, zsh -n, fish -n)", async () => {
    await execFileAsync("bash", ["-n", scripts.bash!]);
    await execFileAsync(zsh.bin, ["-n", scripts.zsh!]);
    await execFileAsync(fish.bin, ["-n", scripts.fish!], { env: { ...process.env, ...fish.env } });
  });

  it("zsh's compinit finds the zsh script on $fpath as the completion for rotator", async () => {
    const functions = join(dir, "zfunc");
    await execFileAsync("mkdir", ["-p", functions]);
    await execFileAsync("cp", [scripts.zsh!, join(functions, "_rotator")]);
    const share = join(zsh.root, "usr/share/zsh/functions/Completion");
    // zsh's modules (compinit loads zsh/complete and others) are under usr/lib/<multiarch>/zsh/<version>.
    const modules = (zsh.env.LD_LIBRARY_PATH ?? "")
      .split(":")
      .map((lib) => join(lib, "zsh"))
      .flatMap((base) => (existsSync(base) ? readdirSync(base).map((version) => join(base, version)) : []));
    const script = `module_path=(${modules.join(" ")})
fpath=(${functions} ${share} ${share}/Base ${share}/Unix ${share}/Zsh)
autoload -U compinit && compinit -u -D && print -r -- "\${_comps[rotator]}"`;
    const { stdout } = await execFileAsync(zsh.bin, ["-f", "-c", script], { cwd: dir });
    expect(stdout.trim()).toBe("_rotator");
  });

  it("an unknown shell is bad input, naming the ones there are", async () => {
    const run = await runCli(["completion", "tcsh"], { env: process.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Allowed choices are bash, zsh, fish");
  });
});
