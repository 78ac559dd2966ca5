/**
 * Opening the state backend a config names (`state:`), and finding a context's. The PostgreSQL backend
 * (and its client library) loads only when a config asks for it.
 */
import type { Environment } from "../../config/load.js";
import { ConfigError } from "../../errors.js";
import { registerSecret } from "../../util/mask.js";
import type { StateBackend } from "./backend.js";
import { LocalStateBackend } from "./local.js";
import type { StateConfig } from "./schema.js";

export type { HeldLocks, RunJournal, StateBackend } from "./backend.js";

/** A shared backend that hands out one view per unit of work (a fleet's accounts share one pool). */
export interface StateBackendPool {
  /** A view for one command's context: its own lock holder, the pool's connections. */
  view(): StateBackend;
  close(): Promise<void>;
}

export async function openStateBackend(
  state: StateConfig,
  where: { stateDir: string; env: Environment; configFile: string },
): Promise<StateBackendPool> {
  if (state.backend === "local") {
    const backend = new LocalStateBackend(where.stateDir);
    return { view: () => backend.view(), close: async () => {} };
  }
  const url = where.env[state.url.env];
  if (url === undefined || url === "") {
    throw new ConfigError(
      where.configFile,
      [`state.url.env: environment variable ${state.url.env} is ${url === undefined ? "not set" : "empty"}`],
      `export ${state.url.env} with the database's connection URL (postgres://user:password@host:5432/db)`,
    );
  }
  registerSecret(url);
  const password = passwordOf(url);
  if (password !== undefined) registerSecret(password);
  if (!isPostgresUrl(url)) {
    throw new ConfigError(
      where.configFile,
      [`state.url.env: environment variable ${state.url.env} does not hold a postgres:// URL`],
      `set ${state.url.env} to postgres://user:password@host:5432/database (percent-encode reserved characters in the password)`,
    );
  }
  const { openPostgresState } = await import("./postgres.js");
  return openPostgresState({
    url,
    leaseMs: state.leaseSeconds * 1000,
    stateDir: where.stateDir,
    variable: state.url.env,
    configFile: where.configFile,
  });
}

function isPostgresUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "postgres:" || protocol === "postgresql:";
  } catch {
    return false;
  }
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === "" ? undefined : password;
  } catch {
    return undefined;
  }
}

const implicit = new WeakMap<object, StateBackend>();

/**
 * The context's state backend. A context built without one (tests that assemble their own parts) gets the
 * local state directory's, as rotator always had.
 */
export function stateOf(context: { state?: StateBackend; stateDir: string }): StateBackend {
  if (context.state !== undefined) return context.state;
  let backend = implicit.get(context);
  if (backend === undefined) {
    backend = new LocalStateBackend(context.stateDir);
    implicit.set(context, backend);
  }
  return backend;
}
