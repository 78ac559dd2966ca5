/**
 * `rotator init` writes a commented config for the stores named, which `rotator validate` (offline, no variable
 * read) accepts as written; validate says what is wrong with a bad file, at its path, with exit 2; neither ever
 * overwrites or changes anything. Through the real CLI.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { root, runCli, useE2e } from "./harness.js";

const e2e = useE2e();

/** An environment holding none of the variables a config could name. */
const bare = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" };

describe("rotator init", () => {
  it("writes a config for the stores named, mode 0600, that validate accepts without any variable set", async () => {
    const ws = await e2e.workspace(1);
    const dir = join(ws.dir, "new");
    await mkdir(dir);
    const run = await runCli(["init", "vault-kv2", "aws-secrets-manager", "azure-key-vault", "dotenv-file"], {
      env: bare,
      cwd: dir,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`wrote ${join(dir, "rotator.yaml")}: 4 store(s)`);
    expect((await stat(join(dir, "rotator.yaml"))).mode & 0o777).toBe(0o600);
    expect(run.stdout).toContain("export TWILIO_AUTH_TOKEN, VAULT_TOKEN");
    const text = await readFile(join(dir, "rotator.yaml"), "utf8");
    expect(text.match(/^ {2}- name: (\S+)$/gm)).toEqual([
      "  - name: vault",
      "  - name: aws",
      "  - name: azure",
      "  - name: app",
    ]);
    expect(text).toContain("# baseUrl: http://127.0.0.1:4010");
    expect(text).toContain("# consumers:");

    const valid = await runCli(["validate"], { env: bare, cwd: dir });
    expect(valid.code, valid.stdout).toBe(0);
    expect(valid.stdout).toContain(
      "rotator.yaml: valid (api-key, 4 store(s), 0 consumer(s); reads TWILIO_AUTH_TOKEN, VAULT_TOKEN)",
    );
  });

  it("an auth-token config, printed to stdout, names its first store as the admin", async () => {
    const run = await runCli(["init", "aws-secrets-manager", "--credential", "auth-token", "-o", "-"], { env: bare });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("type: auth-token");
    expect(run.stdout).toContain("admin: { authToken: { fromStore: aws } }");
  });

  it("never overwrites a file (exit 2, file intact) unless --force; an unknown store type is bad input", async () => {
    const ws = await e2e.workspace(1);
    const before = await readFile(ws.configPath, "utf8");
    const refused = await runCli(["init", "-o", ws.configPath], { env: bare });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${ws.configPath} exists; nothing was written (--force replaces it`);
    expect(await readFile(ws.configPath, "utf8")).toBe(before);

    const unknown = await runCli(["init", "consul"], { env: bare, cwd: ws.dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      "Allowed choices are dotenv-file, vault-kv2, aws-secrets-manager, azure-key-vault",
    );

    const forced = await runCli(["init", "-o", ws.configPath, "--force"], { env: bare });
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(ws.configPath, "utf8")).toContain("made by `rotator init");
  });
});

describe("rotator validate", () => {
  it("says what is wrong with each bad file, at its path, exit 2; good ones pass beside them", async () => {
    const ws = await e2e.workspace(1);
    const bad = join(ws.dir, "bad.yaml");
    await writeFile(
      bad,
      (await readFile(ws.configPath, "utf8")).replace("type: dotenv-file", "type: dotenv").concat("verfy: {}\n"),
    );
    const broken = join(ws.dir, "broken.yaml");
    await writeFile(broken, "version: 1\ntwilio: [\n");
    const run = await runCli(["validate", ws.configPath, bad, broken, "--json"], { env: bare });
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ command: "validate", status: "invalid", exitCode: 2 });
    const [good, wrong, unparsable] = result.files;
    expect(good).toMatchObject({ file: ws.configPath, valid: true, variables: ["TEST_TWILIO_AUTH_TOKEN"] });
    expect(wrong.valid).toBe(false);
    expect(wrong.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stores\[0\]\.type: /),
        expect.stringMatching(/^verfy: unknown key; did you mean verify\?/),
      ]),
    );
    expect(unparsable.valid).toBe(false);
    expect(unparsable.problems.join("\n")).toMatch(/broken\.yaml:\d+:\d+/);
  });

  it("reads no variable unless --require-env, which names each one missing", async () => {
    const ws = await e2e.workspace(1);
    const offline = await runCli(["validate", "--config", ws.configPath], { env: bare });
    expect(offline.code, offline.stdout).toBe(0);
    const required = await runCli(["validate", "--config", ws.configPath, "--require-env"], { env: bare });
    expect(required.code).toBe(2);
    expect(required.stdout).toContain("environment variable TEST_TWILIO_AUTH_TOKEN is not set");
    const set = await runCli(["validate", "--config", ws.configPath, "--require-env"], { env: ws.env });
    expect(set.code, set.stdout).toBe(0);
  });

  it("passes every example config in config/examples (fleet templates included), and a missing file is named", async () => {
    const dir = join(root, "config", "examples");
    const examples = (await readdir(dir))
      .filter((name) => name.endsWith(".example.yaml"))
      .map((name) => join(dir, name));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    const run = await runCli(["validate", ...examples], { env: bare });
    expect(run.code, run.stdout).toBe(0);
    const missing = await runCli(["validate", join(dir, "nope.yaml")], { env: bare });
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain("nope.yaml: invalid");
    expect(missing.stdout).toContain("file not found");
  });
});
