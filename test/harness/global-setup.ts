/**
 * vitest globalSetup for the "integration" project: starts moto, OpenBao, the Key Vault test server and PostgreSQL
 * once, in the main vitest process, and hands their endpoints to every test file:
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
import { ALL_SERVERS, type ServerEndpoints, type ServerName, startServers } from "./servers.js";

function selectedServers(): ServerName[] {
  const raw = process.env.SERVERS?.trim();
  if (!raw) return [...ALL_SERVERS];
  const names = raw.split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !(ALL_SERVERS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`SERVERS has unknown names: ${unknown.join(", ")}`);
  return names as ServerName[];
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await startServers(selectedServers());
  // With a SERVERS subset the missing entries are absent; tests reading them fail loudly on undefined.
  project.provide("servers", servers.endpoints as ServerEndpoints);
  return async () => {
    await servers.stop();
  };
}
