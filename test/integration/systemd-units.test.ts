/**
 * The systemd units in config/examples/systemd pass `systemd-analyze verify` as shipped, with no warning: in an
 * image root of their own (`--root`) holding the system's unit files, the units where the README says to install
 * them, and `rotator` at /usr/local/bin, where their ExecStart lines run it. A unit with a key systemd does not
 * know fails the same check, so the check can fail.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/package-root.js";

const execFileAsync = promisify(execFile);
const root = packageRoot();
const UNITS = ["rotator-rotate.service", "rotator-rotate.timer"];
let image: string;

/** `systemd-analyze verify --root=IMAGE UNIT…`: its exit code and what it printed. */
async function verify(units: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync("systemd-analyze", ["verify", `--root=${image}`, ...units]);
    return { code: 0, output: `${stdout}${stderr}`.trim() };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (failed.code === "ENOENT")
      throw new Error("systemd-analyze not found: install systemd (Debian: apt-get install systemd)");
    return { code: Number(failed.code), output: `${failed.stdout ?? ""}${failed.stderr ?? ""}`.trim() };
  }
}

beforeAll(async () => {
  image = await mkdtemp(join(tmpdir(), "rotator-systemd-"));
  // The system's own units (network-online.target, timers.target, …) that ours name.
  await mkdir(join(image, "usr/lib/systemd"), { recursive: true });
  await cp("/usr/lib/systemd/system", join(image, "usr/lib/systemd/system"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await symlink("usr/lib", join(image, "lib"));
  await mkdir(join(image, "etc/systemd/system"), { recursive: true });
  for (const unit of UNITS) {
    await cp(join(root, "config/examples/systemd", unit), join(image, "etc/systemd/system", unit));
  }
  // What `npm install -g` puts at /usr/local/bin/rotator, as far as verify can tell: an executable.
  await mkdir(join(image, "usr/local/bin"), { recursive: true });
  await writeFile(join(image, "usr/local/bin/rotator"), `#!/bin/sh\nexec node ${join(root, "bin/rotator.js")} "$@"\n`, {
    mode: 0o755,
  });
});

afterAll(async () => {
  await rm(image, { recursive: true, force: true });
});

describe("config/examples/systemd", () => {
  it("the service and its timer pass systemd-analyze verify without a warning", async () => {
    const result = await verify(UNITS);
    expect(result).toEqual({ code: 0, output: "" });
  });

  it("the check can fail: a key systemd does not know, or a command that is not there, is reported", async () => {
    const unit = join(image, "etc/systemd/system", "rotator-rotate.service");
    const shipped = await readFile(unit, "utf8");
    try {
      await writeFile(unit, shipped.replace("Type=oneshot", "Type=oneshot\nRestartSecs=5"));
      expect((await verify(["rotator-rotate.service"])).output).toContain("Unknown key 'RestartSecs'");
      await writeFile(unit, shipped.replaceAll("/usr/local/bin/rotator", "/usr/local/bin/rotatorr"));
      const missing = await verify(["rotator-rotate.service"]);
      expect(missing.code).not.toBe(0);
      expect(missing.output).toContain("/usr/local/bin/rotatorr is not executable");
    } finally {
      await writeFile(unit, shipped);
    }
  });
});
