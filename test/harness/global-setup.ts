/**
 * vitest globalSetup for the "integration" project: starts the test servers of the registry (servers.ts: moto,
 * OpenBao, the Key Vault test server, PostgreSQL, Kubernetes) once, in the main vitest process, and hands their
 * endpoints to every test file:
 *
 *   import { inject } from "vitest";
 *   const endpoints = inject("servers");
 *   const sm = awsClient(endpoints);
 *
 * These shared servers are never stopped mid-run (test files run in parallel and would see each other's
 * outages). A test that needs an outage starts its own instance and stops/starts that one:
 *
 *   const own = await startServers(["vault"]);      // beforeAll
 *   await own.stopOne("vault"); ...; await own.startOne("vault");   // same ports, empty state
 *   await own.stop();                                // afterAll
 *
 * Registered in vitest.config.ts, integration project: `globalSetup: ["test/harness/global-setup.ts"]`.
 * SERVERS=aws,vault limits which servers start; inject() then lacks the others. A test file that needs PostgreSQL
 * makes its own role and database on the shared server (test/harness/postgres.ts, freshDatabase).
 */

import type { TestProject } from "vitest/node";
import { DEBIAN_TOOLS, installDebianTools } from "./debian-tools.js";
import { ALL_SERVERS, isServerName, type ServerEndpoints, type ServerName, startServers } from "./servers.js";

function selectedServers(): ServerName[] {
  const raw = process.env.SERVERS?.trim();
  if (!raw) return [...ALL_SERVERS];
  const names = raw.split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !isServerName(n));
  if (unknown.length > 0) throw new Error(`SERVERS has unknown names: ${unknown.join(", ")}`);
  return names.filter(isServerName);
}

/** What the run installs and starts, and how long each took: on stderr, before the tests' own output. */
function report(line: string): void {
  process.stderr.write(`integration setup: ${line}\n`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const names = selectedServers();
  report(
    `servers ${names.join(", ")} (SERVERS= selects others), in ${process.env.SERVERS_CACHE_DIR ?? ".cache/servers"}`,
  );
  const [servers] = await Promise.all([
    startServers(names, { report }),
    (async () => {
      const installing = performance.now();
      await installDebianTools();
      report(`tools ${DEBIAN_TOOLS.join(", ")} from Debian's packages (${seconds(performance.now() - installing)})`);
    })(),
  ]);
  report(`ready in ${seconds(performance.now() - started)}`);
  // With a SERVERS subset the missing entries are absent; tests reading them fail loudly on undefined.
  project.provide("servers", servers.endpoints as ServerEndpoints);
  return async () => {
    const stopping = performance.now();
    await servers.stop();
    report(`stopped ${names.join(", ")} (${seconds(performance.now() - stopping)})`);
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
