import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../../src/config/json-schema.js";
import { loadConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { packageRoot } from "../../src/util/package-root.js";

const root = packageRoot();

describe("config", () => {
  it("the committed JSON Schema is the one generated from the Zod schema (run `npm run schema`)", async () => {
    expect(await readFile(join(root, "config", "rotator.schema.json"), "utf8")).toBe(configJsonSchema());
  });

  it("the example config is valid once its environment variable is set", async () => {
    const loaded = await loadConfig(join(root, "config", "examples", "rotator.example.yaml"), {
      TWILIO_AUTH_TOKEN: "x".repeat(32),
    });
    expect(loaded.config.stores.map((s) => s.type)).toContain("dotenv-file");
    expect(loaded.config.credential.maxAgeDays).toBe(90);
  });

  it("every example config (config/examples/*.example.yaml) is valid once its variables are set", async () => {
    const { readdir } = await import("node:fs/promises");
    const dir = join(root, "config", "examples");
    const files = (await readdir(dir)).filter((name) => name.endsWith(".example.yaml"));
    expect(files).toEqual(
      expect.arrayContaining(["rotator.example.yaml", "auth-token.example.yaml", "postgres-state.example.yaml"]),
    );
    for (const name of files) {
      const loaded = await loadConfig(join(dir, name), { TWILIO_AUTH_TOKEN: "x".repeat(32), VAULT_SECRET_ID: "s" });
      expect(loaded.config.version, name).toBe(1);
    }
    const token = await loadConfig(join(dir, "auth-token.example.yaml"), {});
    expect(token.config.credential.type).toBe("auth-token");
    const shared = await loadConfig(join(dir, "postgres-state.example.yaml"), { TWILIO_AUTH_TOKEN: "x".repeat(32) });
    expect(shared.config.state).toEqual({ backend: "postgres", url: { env: "DATABASE_URL" }, leaseSeconds: 30 });
    expect(token.config.stores.map((s) => s.type)).toEqual([
      "vault-kv2",
      "aws-secrets-manager",
      "azure-key-vault",
      "dotenv-file",
    ]);
  });

  it("reports every problem at once, each with its path", async () => {
    const { writeFile, mkdtemp } = await import("node:fs/promises");
    const dir = await mkdtemp(join((await import("node:os")).tmpdir(), "rotator-config-"));
    const file = join(dir, "c.yaml");
    await writeFile(
      file,
      "version: 1\ntwilio: { accountSid: AC1, admin: { authToken: { env: T } }, extra: 1 }\ncredential: { type: api-key }\nstores: []\n",
    );
    const error = await loadConfig(file, { T: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toContain("twilio.accountSid: is 3 characters; an account SID is 34 characters");
    expect(problems).toContain("twilio.extra: unknown key");
    expect(problems).toContain("stores: list at least one store");
    expect((error as ConfigError).exitCode).toBe(2);
  });
});
