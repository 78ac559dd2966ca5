/**
 * A database of its own for each test on the shared PostgreSQL server (the harness's `postgres` endpoints):
 * a fresh role with a random password, owning a fresh database, so test files running in parallel never see
 * each other's rows, and the password is a value a secret scan can look for (the superuser's is never given
 * to rotator). drop() removes both, ending any session still connected.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { ServerEndpoints } from "./servers.js";

export interface TestDatabase {
  /** postgres://role:password@127.0.0.1:port/database: what DATABASE_URL holds. */
  url: string;
  database: string;
  role: string;
  password: string;
  /** Run SQL as the role, for assertions on rotator's tables. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

export async function freshDatabase(endpoints: Pick<ServerEndpoints, "postgres">, prefix = "t"): Promise<TestDatabase> {
  const { host, port } = endpoints.postgres;
  const suffix = randomBytes(5).toString("hex");
  const role = `${prefix}_${suffix}`;
  const database = `${prefix}_${suffix}`;
  // Hex, so it needs no escaping in SQL or in the URL; long enough to be unmistakable in a scan.
  const password = `pw${randomBytes(16).toString("hex")}`;
  await asSuperuser(endpoints, async (admin) => {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${role}`);
  });
  const url = `postgres://${role}:${password}@${host}:${port}/${database}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  return {
    url,
    database,
    role,
    password,
    query: (sql, values) => pool.query(sql, values),
    async drop() {
      await pool.end();
      await asSuperuser(endpoints, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      });
    },
  };
}

async function asSuperuser(
  endpoints: Pick<ServerEndpoints, "postgres">,
  body: (client: pg.Client) => Promise<void>,
): Promise<void> {
  const client = new pg.Client({ connectionString: endpoints.postgres.url });
  await client.connect();
  try {
    await body(client);
  } finally {
    await client.end();
  }
}
