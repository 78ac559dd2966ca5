/**
 * The `state:` section of the config: where journals and locks live. The default is the local state
 * directory (`--state-dir`); `postgres` keeps them in a database that several hosts share, so schedulers on
 * two hosts never rotate one store at once and either can finish a run the other left.
 */
import * as z from "zod";
import { envReferenceFor } from "../../config/schema-parts.js";

export const localStateSchema = z
  .strictObject({ backend: z.literal("local") })
  .describe("Journals and locks in the local state directory (--state-dir); the default.");

export const postgresStateSchema = z
  .strictObject({
    backend: z.literal("postgres"),
    url: envReferenceFor({ example: "DATABASE_URL", what: "the connection URL" }).describe(
      "The environment variable holding the connection URL, e.g. postgres://rotator:PASSWORD@db:5432/rotator " +
        "(it holds a password, so it never goes in the config).",
    ),
    leaseSeconds: z
      .number()
      .min(2)
      .max(3600)
      .default(30)
      .describe(
        "How long a lock outlives its holder: renewed every third of it while a run is alive; once a dead " +
          "holder's lease has run out, another host's `rotator resume` takes the run over.",
      ),
  })
  .describe("Journals and locks in a PostgreSQL database shared by every host that runs rotator.");

export const stateSchema = z
  .discriminatedUnion("backend", [localStateSchema, postgresStateSchema], {
    error: "must be { backend: local } or { backend: postgres, url: { env: NAME } }",
  })
  .prefault({ backend: "local" })
  .describe("Where journals and locks live: the local state directory (default) or a shared PostgreSQL database.");

export type StateConfig = z.infer<typeof stateSchema>;
