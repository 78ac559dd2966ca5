/** Which config file and state directory a command uses: flag, else environment variable, else default. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveConfigPath, resolveStateDir } from "../../src/config/paths.js";
import { ConfigError } from "../../src/errors.js";

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "rotator-config-paths-"));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("resolveConfigPath", () => {
  it("prefers the flag, then ROTATOR_CONFIG, then the default", async () => {
    await writeFile(join(cwd, "rotator.yaml"), "");
    const env = { ROTATOR_CONFIG: "/from/env.yaml" };
    expect(resolveConfigPath({ flag: "/from/flag.yaml", env, cwd })).toBe("/from/flag.yaml");
    expect(resolveConfigPath({ env, cwd })).toBe("/from/env.yaml");
    expect(resolveConfigPath({ env: { ROTATOR_CONFIG: "" }, cwd })).toBe(join(cwd, "rotator.yaml"));
  });

  it("finds rotator.yml when there is no rotator.yaml, and names rotator.yaml when there is neither", async () => {
    expect(resolveConfigPath({ env: {}, cwd })).toBe(join(cwd, "rotator.yaml"));
    await writeFile(join(cwd, "rotator.yml"), "");
    expect(resolveConfigPath({ env: {}, cwd })).toBe(join(cwd, "rotator.yml"));
  });

  it("refuses to guess when both rotator.yaml and rotator.yml exist, naming both", async () => {
    await writeFile(join(cwd, "rotator.yaml"), "");
    await writeFile(join(cwd, "rotator.yml"), "");
    let error: unknown;
    try {
      resolveConfigPath({ env: {}, cwd });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).problems).toEqual([
      `both ${join(cwd, "rotator.yaml")} and ${join(cwd, "rotator.yml")} exist; rotator will not guess which one is meant`,
    ]);
    expect((error as ConfigError).hint).toContain("--config");
    // An explicit choice still wins.
    expect(resolveConfigPath({ env: { ROTATOR_CONFIG: join(cwd, "rotator.yml") }, cwd })).toBe(
      join(cwd, "rotator.yml"),
    );
  });
});

describe("resolveStateDir", () => {
  it("prefers the flag, then ROTATOR_STATE_DIR, then $XDG_STATE_HOME/rotator", async () => {
    const state = join(cwd, "state");
    await mkdir(state);
    expect(resolveStateDir({ flag: "/flag", env: { ROTATOR_STATE_DIR: state } })).toBe("/flag");
    expect(resolveStateDir({ env: { ROTATOR_STATE_DIR: state, XDG_STATE_HOME: "/xdg" } })).toBe(state);
    expect(resolveStateDir({ env: { XDG_STATE_HOME: "/xdg" } })).toBe(join("/xdg", "rotator"));
  });
});
