/**
 * The test servers' registry (test/harness/servers.ts) against its folder: every definition in test/harness/servers/
 * is registered under the name it gives itself, each has its part in scripts/servers/install.sh, every store type
 * with integration tests has the server they need, and SERVERS= is read by those names only.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/package-root.js";
import { ALL_SERVERS, isServerName, SERVERS, serverFor } from "../harness/servers.js";

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

  it("serves every store type whose provider has integration tests, each from one server", () => {
    const stores = readdirSync(join(root, "providers")).filter((entry) =>
      existsSync(join(root, "providers", entry, "provider.integration.test.ts")),
    );
    expect(stores.length).toBeGreaterThan(0);
    for (const store of stores) expect(serverFor(store), store).toBeDefined();
    const needs = ALL_SERVERS.flatMap((name) => SERVERS[name].neededBy);
    expect(new Set(needs).size).toBe(needs.length);
  });

  it("knows SERVERS= names and nothing else", () => {
    expect(ALL_SERVERS.every(isServerName)).toBe(true);
    expect(isServerName("twilio")).toBe(false);
    expect(isServerName("toString")).toBe(false);
  });
});
