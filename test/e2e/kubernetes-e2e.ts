/**
 * What the Kubernetes e2e files share: the file's lifecycle (useServerE2e: the emulator, the secret scan), a
 * cluster fixture per test stopped at the end of the file, a config naming its Secret and its Deployment, the
 * journal's events, and the stats of every pod the test's kubelet ever ran.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { CommandResult } from "../../src/engine/result.js";
import { journals, type Workspace, writeConfigFor } from "./harness.js";
import { type ClusterFixture, makeCluster } from "./kubernetes-cluster.js";
import { useServerE2e } from "./server-e2e.js";

export type { CommandResult };

export interface JournalLine {
  event: string;
  ts: string;
  [key: string]: unknown;
}

/** Call once at the top level of a file, in place of useServerE2e. */
export function useKubernetesE2e() {
  const e2e = useServerE2e();
  return {
    e2e,
    /** A cluster fixture (see kubernetes-cluster.ts), stopped at the end of the file before the secret scan. */
    async clusterFor(ws: Workspace, options: Omit<Parameters<typeof makeCluster>[2], "twilioBaseUrl">) {
      const cluster = await makeCluster(e2e.servers, ws, { twilioBaseUrl: () => e2e.emulator.baseUrl, ...options });
      e2e.onTeardown(() => cluster.stop());
      return cluster;
    },
    /** A "Twilio" that refuses every credential (20003), closed at the end of the file: where a broken pod calls. */
    async refusingTwilio(): Promise<string> {
      const server = createServer((_req, res) => {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: 20003, message: "Authenticate", status: 401 }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      e2e.onTeardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}

/** The workspace's config with the cluster's Secret as the store and its Deployment as the consumer. */
export async function writeConfig(
  ws: Workspace,
  cluster: ClusterFixture,
  consumer: Record<string, unknown>,
  verify: Record<string, unknown> = {},
): Promise<void> {
  await writeConfigFor(ws, {
    stores: [cluster.store],
    consumers: [cluster.consumer(consumer)],
    verify: { consumersTimeoutSeconds: 120, consumersPollSeconds: 0.3, ...verify },
  });
}

/** Every journal line of the workspace's runs, parsed. */
export async function events(ws: Workspace): Promise<JournalLine[]> {
  return (await journals(ws))
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as JournalLine);
}

/** Calls and 20003s summed over every app the kubelet ever ran (stopped ones as they were when stopped). */
export async function sumStats(cluster: ClusterFixture) {
  const all = await cluster.kubelet.allStats();
  return {
    pods: all.length,
    calls: all.reduce((sum, one) => sum + one.stats.calls, 0),
    unauthorized: all.reduce((sum, one) => sum + one.stats.unauthorized, 0),
    perPod: all,
  };
}
