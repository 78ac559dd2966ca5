/**
 * The process plumbing every test server shares (test/harness/servers.ts is the registry over their definitions in
 * this folder): the installer, free ports, launching a server as a child process with its output in a log of its
 * own, waiting until it answers, and stopping it.
 *
 * Children never outlive the test process: stop() kills them, an "exit"/signal hook kills what is left, and a
 * tiny shell watchdog per child kills it if this process dies without running any hook (SIGKILL, a worker
 * thread terminated by the pool). Server output goes to .cache/servers/logs/<name>-<port>.log only.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const CACHE_DIR = process.env.SERVERS_CACHE_DIR ?? join(REPO_ROOT, ".cache/servers");
const LOG_DIR = join(CACHE_DIR, "logs");
const STAMPS = join(CACHE_DIR, "stamps");
const INSTALLER = join(REPO_ROOT, "scripts/servers/install.sh");

export const HOST = "127.0.0.1";

// ---------------------------------------------------------------------------------------------- install

/** Runs the installer for the given parts; it is idempotent and fast when the stamps match. */
export async function runInstaller(which: readonly string[]): Promise<string[]> {
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

export function readStamp(name: string): string {
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

export function installExitHooks(): void {
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

export interface Started {
  child: ChildProcess;
  logFile: string;
  /** What stop() sends first (PostgreSQL's SIGTERM would wait for every client to disconnect). */
  stopSignal: NodeJS.Signals;
  /** Resolves with the exit code/signal when the process ends; never rejects. */
  exited: Promise<string>;
  /** Processes that live and die with this one (the API server's etcd and controller-manager). */
  companions: Started[];
}

export function launch(
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

export async function terminate(started: Started): Promise<void> {
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
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export class StartError extends Error {
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
export async function waitReady(
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

export async function httpOk(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === 200;
}

/** The ports a server listens on, allocated once per handle and kept across restarts. */
export interface Ports {
  main: number;
  /** A second listener: the Key Vault test server's authority, etcd's client port. */
  second?: number;
  /** A third: etcd's peer port. */
  third?: number;
}

/**
 * One kind of test server. The registry (test/harness/servers.ts) installs it with scripts/servers/install.sh's part
 * of the same name, allocates its ports, starts it, waits until `ready`, hands `endpoints` to the tests, and stops
 * it (SIGTERM, or its launch's stopSignal; SIGKILL after 5 s).
 */
export interface ServerDefinition<E> {
  /** What SERVERS= and the installer call it. */
  name: string;
  /** What it is, in a few words, for the integration setup's report. */
  summary: string;
  /**
   * What needs it: the store types (provider folders) whose integration tests run against it, and the features
   * (`state: postgres`, `kubernetes consumers`) tested with it.
   */
  neededBy: readonly string[];
  portCount: 1 | 2 | 3;
  /** A server for one handle: what it makes (certificates, a data directory, credentials) is its own. */
  create(): ServerInstance<E>;
}

export interface ServerInstance<E> {
  /** Starts the process (again, after stopOne, on the same ports). */
  launch(ports: Ports): Started;
  /** Resolves once the server answers like the real service; rejects (StartError) if it never does. */
  ready(ports: Ports, started: Started): Promise<void>;
  /** What tests reach it with, computed once after the first successful start. */
  endpoints(ports: Ports): Promise<E>;
  /** Remove what it made for the handle (a certificate directory) once it is stopped for good. */
  dispose?(): void;
}
