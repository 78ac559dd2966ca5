/**
 * "Hosts" for tests of shared state on PostgreSQL: the real CLI in a child process in a UTS namespace of its own
 * (its own hostname, so the runs it records and the locks it holds say where they came from), each host with its
 * own config file (the same stores) and local state directory, all pointing at one database.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { TestDatabase } from "../harness/postgres.js";
import { type CliRun, root, transcript, type Workspace, writeConfigFor } from "./harness.js";

const bin = join(root, "bin", "rotator.js");

/** The namespace a "host" runs in: as root a UTS namespace; otherwise a user namespace mapping us to root too. */
const NAMESPACE = process.getuid?.() === 0 ? ["--uts"] : ["--user", "--map-root-user", "--uts"];

/**
 * The CLI as started on host `host`: its own hostname (a UTS namespace; unshare and sh exec, so `child` is the
 * rotator process itself: signals sent to it reach rotator), everything printed kept for the secret scan.
 */
export function startOn(
  host: string,
  args: string[],
  env: Record<string, string | undefined>,
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(
    "unshare",
    [...NAMESPACE, "sh", "-c", 'hostname "$0" && exec "$@"', host, process.execPath, bin, ...args],
    { cwd: root, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  const done = new Promise<CliRun>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      transcript.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** The CLI run on host `host` to its end. */
export function runOn(host: string, args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return startOn(host, args, env).done;
}

/** A run's one JSON result; fails loudly, showing what was printed, when stdout is not one JSON object. */
export function json(run: CliRun): Record<string, unknown> & { error?: string; hint?: string; status?: string } {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown> & { error?: string; hint?: string; status?: string };
  } catch {
    throw new Error(`not one JSON object (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

export interface Host {
  name: string;
  config: string;
  stateDir: string;
  env: Record<string, string | undefined>;
  /** `rotator <command> --config … --state-dir … --json …rest` on this host, to its end. */
  run(command: string, ...rest: string[]): Promise<CliRun>;
  /** The same, started: the child (to stop and wake) and its end. */
  start(
    command: string,
    extraEnv?: Record<string, string | undefined>,
    ...rest: string[]
  ): { child: ChildProcess; done: Promise<CliRun> };
}

/**
 * Two hosts for one workspace: their own config file (the workspace's config with the database as state and
 * `overrides` merged in) and state directory, one database.
 */
export async function twoHosts(
  ws: Workspace,
  db: TestDatabase,
  leaseSeconds: number,
  overrides: Record<string, unknown> = {},
): Promise<[Host, Host]> {
  const state = { backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds };
  const make = async (name: string): Promise<Host> => {
    const config = join(ws.dir, `${name}.yaml`);
    const stateDir = join(ws.dir, `state-${name}`);
    await mkdir(stateDir, { recursive: true });
    await writeConfigFor(ws, { ...overrides, state }, { file: config });
    const env = { ...ws.env, DATABASE_URL: db.url };
    const args = (command: string, rest: string[]) => [
      command,
      "--config",
      config,
      "--state-dir",
      stateDir,
      "--json",
      ...rest,
    ];
    return {
      name,
      config,
      stateDir,
      env,
      run: (command, ...rest) => runOn(name, args(command, rest), env),
      start: (command, extraEnv = {}, ...rest) => startOn(name, args(command, rest), { ...env, ...extraEnv }),
    };
  };
  return [await make("rotator-host-a"), await make("rotator-host-b")];
}
