/**
 * Tools some tests run (promtool, zsh, fish), from Debian's packages unpacked into the servers' cache by
 * scripts/servers/install-debian-tools.sh (idempotent: milliseconds once installed). The integration globalSetup
 * installs them with the servers; a test calls `debianTool(name)` to get the binary and the environment it needs.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { packageRoot } from "../../src/util/package-root.js";

const execFileAsync = promisify(execFile);
const REPO_ROOT = packageRoot();
const CACHE_DIR = process.env.SERVERS_CACHE_DIR ?? join(REPO_ROOT, ".cache/servers");
const INSTALLER = join(REPO_ROOT, "scripts/servers/install-debian-tools.sh");

export type DebianTool = "promtool" | "zsh" | "fish";
export const DEBIAN_TOOLS: readonly DebianTool[] = ["promtool", "zsh", "fish"];

const BINARIES: Record<DebianTool, string> = { promtool: "usr/bin/promtool", zsh: "bin/zsh", fish: "usr/bin/fish" };

export interface InstalledTool {
  /** The binary to run. */
  bin: string;
  /** Where its package was unpacked (zsh's modules and functions, fish's functions are under it). */
  root: string;
  /** What to add to the environment to run it: its packages' shared libraries. */
  env: Record<string, string>;
}

/** Install (if needed) the given tools; throws with the installer's reason when one cannot be. */
export async function installDebianTools(tools: readonly DebianTool[] = DEBIAN_TOOLS): Promise<void> {
  try {
    await execFileAsync("bash", [INSTALLER, ...tools], { cwd: REPO_ROOT, maxBuffer: 4 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`scripts/servers/install-debian-tools.sh ${tools.join(" ")} failed:\n${stderr.trim()}`);
  }
}

export async function debianTool(tool: DebianTool): Promise<InstalledTool> {
  await installDebianTools([tool]);
  const root = join(CACHE_DIR, "debian", tool, "root");
  // Shared libraries unpacked with it (fish's libpcre2-32), under usr/lib/<multiarch> or lib/<multiarch>.
  const libraries = ["usr/lib", "lib"]
    .map((dir) => join(root, dir))
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((name) => name.endsWith("-linux-gnu"))
        .map((name) => join(dir, name)),
    );
  return {
    bin: join(root, BINARIES[tool]),
    root,
    env: libraries.length === 0 ? {} : { LD_LIBRARY_PATH: libraries.join(":") },
  };
}
