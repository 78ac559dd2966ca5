/**
 * The test servers' registry (test/harness/servers.ts) against its folder: every definition in test/harness/servers/
 * is registered under the name it gives itself, each has its part in scripts/servers/install.sh, and SERVERS= is
 * read by those names only.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/package-root.js";
import { ALL_SERVERS, isServerName, SERVERS } from "../harness/servers.js";

const root = packageRoot();
const definitions = readdirSync(join(root, "test/harness/servers"))
  .filter((file) => file.endsWith(".ts") && file !== "process.ts")
  .map((file) => file.replace(/\.ts$/, ""));

describe("the test servers' registry", () => {
  it("holds every definition of test/harness/servers/, each under the name it gives itself", () => {
    expect([...ALL_SERVERS].sort()).toEqual([...definitions].sort());
    for (const name of ALL_SERVERS) expect(SERVERS[name].name).toBe(name);
  });

  it("has each server's part in the installer", () => {
    const installer = readFileSync(join(root, "scripts/servers/install.sh"), "utf8");
    for (const name of ALL_SERVERS) expect(installer).toContain(`  ${name}) want_${name}=1 ;;`);
  });

  it("knows SERVERS= names and nothing else", () => {
    expect(ALL_SERVERS.every(isServerName)).toBe(true);
    expect(isServerName("twilio")).toBe(false);
    expect(isServerName("toString")).toBe(false);
  });
});
