/**
 * Bad input through the real CLI: each mistake gets exit 2, a message naming the config file and the place
 * in it, and the fix; and nothing changes (no Twilio state, no store byte, no journal). Values pasted by
 * mistake (a token, a password in a URL) appear in no output; the shared lifecycle scans every byte printed
 * and every journal for them, and for every secret the emulator issued.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CommandResult } from "../../src/engine/result.js";
import {
  ADMIN_VARIABLE,
  type ConfigOverrides,
  cliArgs,
  configFor,
  configYaml,
  journalRecords,
  journals,
  REMOVE,
  rawYaml,
  runCli,
  runJson,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();

/** Values a user might paste into the config by mistake; none may be echoed. */
const PASTED_TOKEN = randomBytes(16).toString("hex");
const PASTED_KEY_SECRET = randomBytes(32)
  .toString("base64")
  .replace(/[^A-Za-z0-9]/g, "")
  .slice(0, 32);
const PASSWORD = `pw-${randomBytes(8).toString("hex")}`;
const pasted = [PASTED_TOKEN, PASTED_KEY_SECRET, PASSWORD];

const HEX = "0123456789abcdef0123456789abcdef";
const vaultStore = (auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: "vault",
  type: "vault-kv2",
  address: "http://127.0.0.1:8200",
  path: "apps/twilio",
  auth,
  ...extra,
});
const httpConsumer = (extra: Record<string, unknown> = {}) => ({
  name: "api",
  type: "http",
  url: "http://127.0.0.1:8080/.well-known/twilio-credential",
  ...extra,
});

interface BadInput {
  name: string;
  /** What differs from the workspace's config. */
  config?: (ws: Workspace) => ConfigOverrides;
  /** An edit of the YAML text after it is written out (syntax errors). */
  edit?: (yaml: string) => string;
  env?: Record<string, string | undefined>;
  /** The CLI's arguments after the command, if not `--config ws.configPath --state-dir ws.stateDir`. */
  args?: (ws: Workspace) => string[];
  cwd?: (ws: Workspace) => string;
  /** The path the error must name; default the workspace's config. */
  names?: (ws: Workspace) => string;
  /** Found in preflight (a store, the admin credential), which names the store instead of the file. */
  preflight?: boolean;
  /** In the error or hint: the place and the fix. A function gets the text written. */
  expect: RegExp[] | ((written: string, ws: Workspace) => RegExp[]);
}

const cases: BadInput[] = [
  // Unknown keys, with "did you mean".
  {
    name: "a misspelt credential key",
    config: () => ({ credential: { maxAgeDay: 30 } }),
    expect: [/credential\.maxAgeDay: unknown key; did you mean maxAgeDays\?/],
  },
  {
    name: "a misspelt key inside a store",
    config: () => ({ stores: { 0: { pathh: "x" } } }),
    expect: [/stores\[0\]\.pathh: unknown key; did you mean path\?/],
  },
  {
    name: "baseURL for baseUrl",
    config: (ws) => ({ twilio: { baseUrl: REMOVE, baseURL: ws.twilio.baseUrl } }),
    expect: [/twilio\.baseURL: unknown key; did you mean baseUrl\?/],
  },
  {
    name: "basUrl for baseUrl",
    config: (ws) => ({ twilio: { baseUrl: REMOVE, basUrl: ws.twilio.baseUrl } }),
    expect: [/twilio\.basUrl: unknown key; did you mean baseUrl\?/],
  },
  {
    name: "a token pasted as a key under admin",
    config: () => ({ twilio: { admin: { [PASTED_TOKEN]: "x" } } }),
    expect: [/twilio\.admin\.\[REDACTED\]: unknown key that looks like a secret value/, /rotate that credential/],
  },
  // The account SID, diagnosed.
  {
    name: "an account SID with two characters too many",
    config: (ws) => ({ twilio: { accountSid: `${ws.twilio.accountSid}zz` } }),
    expect: [/twilio\.accountSid: is 36 characters; an account SID is 34 characters: AC followed by 32 hex digits/],
  },
  {
    name: "an account SID with a stray space",
    config: (ws) => ({ twilio: { accountSid: ` ${ws.twilio.accountSid}` } }),
    expect: [/twilio\.accountSid: has leading or trailing whitespace .*; remove it/],
  },
  {
    name: "an account SID starting with lower-case ac",
    config: (ws) => ({ twilio: { accountSid: `ac${ws.twilio.accountSid.slice(2)}` } }),
    expect: [/twilio\.accountSid: starts with "ac"; an account SID starts with upper-case AC/],
  },
  {
    name: "an API key SID where the account SID belongs",
    config: () => ({ twilio: { accountSid: `SK${HEX}` } }),
    expect: [/twilio\.accountSid: is an API key SID \(SK…\), not an account SID \(AC…\); the account SID is on the/],
  },
  {
    name: "a token pasted as the account SID",
    config: () => ({ twilio: { accountSid: PASTED_TOKEN } }),
    expect: [/twilio\.accountSid: looks like a secret .* put the secret in an environment variable/],
  },
  // Secrets where a reference belongs.
  {
    name: "the Auth Token itself under admin",
    config: () => ({ twilio: { admin: { authToken: PASTED_TOKEN } } }),
    expect: [
      /twilio\.admin\.authToken: must be a reference such as \{ env: TWILIO_AUTH_TOKEN \}, not the token itself \(secret values never go in the config\); move the value to an environment variable/,
    ],
  },
  {
    name: "a key secret itself under admin",
    config: () => ({
      twilio: { admin: { authToken: REMOVE, apiKeySid: `SK${HEX}`, apiKeySecret: PASTED_KEY_SECRET } },
    }),
    expect: [
      /twilio\.admin\.apiKeySecret: must be a reference such as \{ env: TWILIO_API_KEY_SECRET \}, not the key secret/,
    ],
  },
  {
    name: "a token given as the variable name",
    config: () => ({ twilio: { admin: { authToken: { env: PASTED_TOKEN } } } }),
    expect: [/twilio\.admin\.authToken\.env: looks like a secret value, not a variable name/],
  },
  {
    name: "a Vault token itself",
    config: () => ({ stores: { 2: vaultStore({ method: "token", token: PASTED_TOKEN }) } }),
    expect: [/stores\[2\]\.auth\.token: must be a reference such as \{ env: VAULT_TOKEN \}, not the token itself/],
  },
  {
    name: "a Vault AppRole secret_id itself",
    config: () => ({
      stores: { 2: vaultStore({ method: "approle", roleId: "rotator", secretId: PASTED_KEY_SECRET }) },
    }),
    expect: [/stores\[2\]\.auth\.secretId: must be a reference such as \{ env: VAULT_SECRET_ID \}, not the secret_id/],
  },
  {
    name: "a bearer token written into a consumer's header",
    config: () => ({ consumers: [httpConsumer({ headers: { Authorization: `Bearer ${PASTED_TOKEN}` } })] }),
    expect: [/consumers\[0\]\.headers\["Authorization"\]: looks like a secret .*give it as \{ env: NAME \}/],
  },
  // Unions and discriminators say what is expected.
  {
    name: "an admin credential of neither form",
    config: () => ({ twilio: { admin: { authToken: REMOVE, token: { env: ADMIN_VARIABLE } } } }),
    expect: [/twilio\.admin: must be either \{ authToken: \{ env: NAME \} \} \(the Auth Token\) or \{ apiKeySid/],
  },
  {
    name: "an unknown store type",
    config: () => ({ stores: { 0: { type: "dotenv" } } }),
    expect: [
      /stores\[0\]\.type: "dotenv" is not a known store type; use one of aws-secrets-manager, azure-key-vault, dotenv-file, kubernetes-secret, vault-kv2 \(did you mean dotenv-file\?\)/,
    ],
  },
  {
    name: "a store without a type",
    config: () => ({ stores: { 1: { type: REMOVE } } }),
    expect: [
      /stores\[1\]\.type: missing: give the store type, one of aws-secrets-manager, azure-key-vault, dotenv-file, kubernetes-secret, vault-kv2/,
    ],
  },
  {
    name: "an unknown Vault auth method",
    config: () => ({ stores: { 2: vaultStore({ method: "tokn", token: { env: "VAULT_TOKEN" } }) } }),
    expect: [
      /stores\[2\]\.auth\.method: "tokn" is not a known auth method; use one of token, approle, kubernetes \(did you mean token\?\)/,
    ],
  },
  {
    name: "an unknown consumer type",
    config: () => ({ consumers: [{ name: "api", type: "grpc" }] }),
    expect: [/consumers\[0\]\.type: "grpc" is not a known consumer type; use one of http, command, kubernetes/],
  },
  {
    name: "wrong types",
    config: () => ({ version: 2, verify: { newKeyTimeoutSeconds: "five" } }),
    expect: [/verify\.newKeyTimeoutSeconds: must be a number, not text/, /version: must be 1/],
  },
  // URLs: no userinfo anywhere (and never echoed), an origin for Twilio.
  {
    name: "a password in twilio.baseUrl",
    config: (ws) => ({ twilio: { baseUrl: ws.twilio.baseUrl.replace("://", `://rotator:${PASSWORD}@`) } }),
    expect: [/twilio\.baseUrl: must not hold a user name or password \(user:password@\)/],
  },
  {
    name: "a password in an AWS endpoint",
    config: () => ({
      stores: {
        2: {
          name: "aws",
          type: "aws-secrets-manager",
          secretId: "prod/twilio",
          endpoint: `http://u:${PASSWORD}@127.0.0.1:5000`,
        },
      },
    }),
    expect: [/stores\[2\]\.endpoint: must not hold a user name or password/, /change that password/],
  },
  {
    name: "a password in a Vault address",
    config: () => ({
      stores: {
        2: vaultStore(
          { method: "token", token: { env: "VAULT_TOKEN" } },
          { address: `https://u:${PASSWORD}@vault:8200` },
        ),
      },
    }),
    expect: [/stores\[2\]\.address: must not hold a user name or password/],
  },
  {
    name: "a password in a consumer URL",
    config: () => ({ consumers: [httpConsumer({ url: `http://u:${PASSWORD}@127.0.0.1:8080/` })] }),
    expect: [
      /consumers\[0\]\.url: must not hold a user name or password .*send a credential as a header instead, given as \{ env: NAME \}/,
    ],
  },
  {
    name: "a password in a consumer's reload URL",
    config: () => ({ consumers: [httpConsumer({ reload: { url: `http://u:${PASSWORD}@127.0.0.1:8080/-/reload` } })] }),
    expect: [/consumers\[0\]\.reload\.url: must not hold a user name or password/],
  },
  {
    name: "a path in twilio.baseUrl",
    config: (ws) => ({ twilio: { baseUrl: `${ws.twilio.baseUrl}/2010-04-01` } }),
    expect: [
      /twilio\.baseUrl: must be an origin such as http:\/\/127\.0\.0\.1:4010: scheme, host and port, with no path/,
    ],
  },
  {
    name: "a query in twilio.baseUrl",
    config: (ws) => ({ twilio: { baseUrl: `${ws.twilio.baseUrl}?region=ie1` } }),
    expect: [/twilio\.baseUrl: must be an origin such as http:\/\/127\.0\.0\.1:4010/],
  },
  // YAML syntax: file:line:col, the line, a caret.
  {
    name: "an unclosed [",
    config: () => ({ credential: rawYaml("[unclosed") }),
    expect: (written) => {
      const line = written.split("\n").findIndex((text) => text.includes("[unclosed")) + 1;
      return [new RegExp(`rotator\\.yaml:${line}:\\d+: missing "\\]"`), /\n\s+credential: \[unclosed\n\s+\^/];
    },
  },
  {
    name: "a missing } on the last line is reported on that line",
    edit: (yaml) => `${yaml}consumers: { name: api, type: http, url: "http://127.0.0.1:8080/"\n`,
    expect: (written) => {
      const lines = written.trimEnd().split("\n").length;
      return [new RegExp(`rotator\\.yaml:${lines}:\\d+: missing "\\}"`)];
    },
  },
  {
    name: "a tab used for indentation",
    edit: (yaml) => yaml.replace("\n  type: api-key", "\n\ttype: api-key"),
    expect: [/rotator\.yaml:\d+:1: a tab is used for indentation; YAML allows only spaces/],
  },
  {
    name: "a key given twice",
    edit: (yaml) => yaml.replace("version: 1\n", "version: 1\nversion: 1\n"),
    expect: [/rotator\.yaml:2:1: this key appears twice in the same mapping; keep one of them/],
  },
  {
    name: "a token pasted into a line with a syntax error is masked in the excerpt",
    config: () => ({ twilio: { admin: { authToken: rawYaml(`${PASTED_TOKEN}: x`) } } }),
    expect: [/rotator\.yaml:\d+:\d+: /, /\[REDACTED\]: x/],
  },
  {
    name: "a YAML alias bomb",
    edit: (yaml) => {
      const lines = ['x-a: &a ["x","x","x","x","x","x","x","x","x"]'];
      for (const [name, previous] of ["ba", "cb", "dc", "ed", "fe"]) {
        lines.push(`x-${name}: &${name} [${Array(9).fill(`*${previous}`).join(",")}]`);
      }
      return `${lines.join("\n")}\n${yaml}`;
    },
    expect: [
      /rotator\.yaml:2:\d+: YAML aliases \(\*name\) here expand to more than 100 copies/,
      /write the values out/,
    ],
  },
  {
    name: "an empty file",
    edit: () => "",
    expect: [/\(top level\): the file is empty; `rotator init` writes a commented config to start from/],
  },
  // Which file.
  {
    name: "a directory given as --config",
    args: (ws) => ["--config", ws.dir, "--state-dir", ws.stateDir],
    names: (ws) => ws.dir,
    expect: (_, ws) => [
      new RegExp(
        `is a directory; pass the config file inside it, e\\.g\\. ${ws.configPath} \\(it holds ${ws.configPath}\\)`,
      ),
      new RegExp(`pass --config ${ws.configPath}`),
    ],
  },
  {
    name: "a config file that does not exist",
    args: (ws) => ["--config", join(ws.dir, "nope.yaml"), "--state-dir", ws.stateDir],
    names: (ws) => join(ws.dir, "nope.yaml"),
    expect: [/file not found/, /pass --config PATH \(or set ROTATOR_CONFIG\)/],
  },
  {
    name: "ROTATOR_CONFIG naming a file that does not exist",
    args: (ws) => ["--state-dir", ws.stateDir],
    env: { ROTATOR_CONFIG: "/nonexistent/rotator.yml" },
    names: () => "/nonexistent/rotator.yml",
    expect: [/file not found/],
  },
  {
    name: "both rotator.yaml and rotator.yml in the working directory",
    args: (ws) => ["--state-dir", ws.stateDir],
    cwd: (ws) => join(ws.dir, "both"),
    names: (ws) => join(ws.dir, "both", "rotator.yaml"),
    expect: (_, ws) => [
      new RegExp(`both ${join(ws.dir, "both", "rotator.yaml")} and ${join(ws.dir, "both", "rotator.yml")} exist`),
      /remove or rename one of them, or pass --config PATH/,
    ],
  },
  // Found in preflight.
  {
    name: "a missing environment variable",
    env: { [ADMIN_VARIABLE]: undefined },
    expect: [
      /twilio\.admin\.authToken\.env: environment variable TEST_TWILIO_AUTH_TOKEN is not set/,
      /export TEST_TWILIO_AUTH_TOKEN/,
    ],
  },
  {
    name: "a missing store file",
    config: (ws) => ({ stores: { 1: { path: join(ws.dir, "does-not-exist.env") } } }),
    preflight: true,
    expect: [/app-2/, /does-not-exist\.env/],
  },
  {
    name: "a wrong admin token gets 20003 with likely causes",
    env: { [ADMIN_VARIABLE]: ` ${"0".repeat(32)}\n` },
    preflight: true,
    expect: [/20003/, /whitespace/],
  },
];

describe("bad input changes nothing and exits 2 with the place and the fix named", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await e2e.workspace();
    ws.secrets.push(...pasted);
    await mkdir(join(ws.dir, "both"));
    for (const name of ["rotator.yaml", "rotator.yml"]) {
      await writeFile(join(ws.dir, "both", name), configYaml(configFor(ws)));
    }
  });

  it("covers at least 30 bad configs and inputs", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  for (const testCase of cases) {
    it(testCase.name, async () => {
      const written = await writeConfigFor(
        ws,
        testCase.config?.(ws) ?? {},
        testCase.edit ? { edit: testCase.edit } : {},
      );
      const expected = typeof testCase.expect === "function" ? testCase.expect(written, ws) : testCase.expect;
      const twilioBefore = JSON.stringify(e2e.emulator.snapshot());
      const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
      // Both fail before changing anything, so they may run side by side (halving the file's time).
      const runs = await Promise.all(
        ["plan", "rotate"].map((command) =>
          runJson<CommandResult & { problems?: string[] }>(
            testCase.args ? [command, ...testCase.args(ws), "--json"] : cliArgs(ws, command),
            { env: { ...ws.env, ...(testCase.env ?? {}) }, ...(testCase.cwd ? { cwd: testCase.cwd(ws) } : {}) },
          ),
        ),
      );
      for (const { run, result } of runs) {
        expect(run.code, run.stdout + run.stderr).toBe(2);
        // plan reports what preflight found as problems of its plan; everything else fails outright.
        const text = [result.error ?? "", ...(result.problems ?? []), result.hint ?? ""].join("\n");
        if (!testCase.preflight) {
          expect(result.status).toBe("failed");
          expect(result.error).toContain(`invalid config ${(testCase.names ?? (() => ws.configPath))(ws)}:`);
        }
        for (const pattern of expected) expect(text).toMatch(pattern);
        for (const secret of pasted) {
          expect(run.stdout.includes(secret) || run.stderr.includes(secret), "a pasted secret was echoed").toBe(false);
        }
      }
      expect(JSON.stringify(e2e.emulator.snapshot())).toBe(twilioBefore);
      expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
      expect(await journals(ws)).toBe("");
    });
  }

  it("the human output shows the YAML excerpt and caret too", async () => {
    await writeConfigFor(ws, { credential: rawYaml("[unclosed") });
    const run = await runCli(["plan", "--config", ws.configPath, "--state-dir", ws.stateDir], { env: ws.env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/rotator\.yaml:\d+:\d+: missing "\]"/);
    expect(run.stderr).toMatch(/credential: \[unclosed\n\s+\^/);
    expect(run.stderr).toContain("hint: fix the YAML/JSON syntax at the line shown");
  });
});

describe("where the config and state come from", () => {
  it("ROTATOR_CONFIG and ROTATOR_STATE_DIR are used when no flag is given", async () => {
    const ws = await e2e.workspace();
    const { run, result } = await runJson(["rotate"], {
      env: { ...ws.env, ROTATOR_CONFIG: ws.configPath, ROTATOR_STATE_DIR: ws.stateDir },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    expect(result.journal?.startsWith(ws.stateDir)).toBe(true);
    expect((await journalRecords(ws)).map((record) => record.runId)).toContain(result.runId);
  });

  it("the flags win over the environment variables", async () => {
    const ws = await e2e.workspace();
    const { run } = await runJson(cliArgs(ws, "plan"), {
      env: { ...ws.env, ROTATOR_CONFIG: "/nonexistent/rotator.yaml", ROTATOR_STATE_DIR: "/nonexistent/state" },
    });
    expect(run.code, run.stderr).toBe(0);
  });

  it("rotator.yml in the working directory is found without --config", async () => {
    const ws = await e2e.workspace();
    const dir = join(ws.dir, "yml");
    await mkdir(dir);
    await writeConfigFor(ws, {}, { file: join(dir, "rotator.yml") });
    const { run, result } = await runJson(["plan", "--state-dir", ws.stateDir], { env: ws.env, cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("planned");
  });
});

describe("SIDs are normalised at load", () => {
  it("an account SID written in upper-case hex works, and its masked form matches Twilio's", async () => {
    const ws = await e2e.workspace();
    const upper = `AC${ws.twilio.accountSid.slice(2).toUpperCase()}`;
    expect(upper).not.toBe(ws.twilio.accountSid);
    await writeConfigFor(ws, { twilio: { accountSid: upper } });
    const { run, result } = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    expect(result.status).toBe("completed");
    expect(result.oldKey).toBe(`SK…${ws.seeded.sid.slice(-4)}`);
  });
});
