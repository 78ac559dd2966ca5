/**
 * Bad input: each mistake gets exit 2, a message naming where it is, and nothing changes (no Twilio
 * state, no store byte, no journal).
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_VARIABLE,
  cleanup,
  cliArgs,
  ensureBuilt,
  journals,
  makeWorkspace,
  runCli,
  startTwilioEmulator,
  type TwilioEmulator,
  transcript,
  type Workspace,
} from "./harness.js";

let emulator: TwilioEmulator;
let ws: Workspace;
let goodConfig: string;
const issuedSecrets = new Set<string>();

beforeAll(async () => {
  ensureBuilt();
  emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => issuedSecrets.add(secret) });
  ws = await makeWorkspace(emulator);
  goodConfig = await readFile(ws.configPath, "utf8");
});

afterAll(async () => {
  const secrets = [...ws.secrets, ...issuedSecrets];
  const leaks = secrets.filter((secret) => transcript.some((text) => text.includes(secret)));
  expect(leaks).toEqual([]);
  await cleanup(ws);
  await emulator.close();
});

const cases: Array<{
  name: string;
  edit: (config: string) => string;
  env?: Record<string, string | undefined>;
  expect: RegExp[];
}> = [
  {
    name: "an unknown key",
    edit: (c) => c.replace("  friendlyNamePrefix: e2e", "  friendlyNamePrefix: e2e\n  maxAgeDay: 30"),
    expect: [/credential\.maxAgeDay: unknown key/],
  },
  {
    name: "an unknown key inside a store",
    edit: (c) => c.replace("type: dotenv-file, path:", "type: dotenv-file, pathh: x, path:"),
    expect: [/stores\[0\]\.pathh: unknown key/],
  },
  {
    name: "a malformed account SID",
    edit: (c) => c.replace(/accountSid: AC([0-9a-f]{32})/, "accountSid: AC$1zz"),
    expect: [/twilio\.accountSid: must be an account SID/],
  },
  {
    name: "a missing environment variable",
    edit: (c) => c,
    env: { [ADMIN_VARIABLE]: undefined },
    expect: [
      /twilio\.admin\.authToken\.env: environment variable TEST_TWILIO_AUTH_TOKEN is not set/,
      /export TEST_TWILIO_AUTH_TOKEN/,
    ],
  },
  {
    name: "wrong types",
    edit: (c) =>
      c.replace("newKeyTimeoutSeconds: 5", 'newKeyTimeoutSeconds: "five"').replace("version: 1", "version: 2"),
    expect: [/verify\.newKeyTimeoutSeconds: .*number/i, /version: must be 1/],
  },
  {
    name: "an unknown store type",
    edit: (c) => c.replace("type: dotenv-file, path:", "type: dotenv, path:"),
    expect: [/stores\[0\]\.type/],
  },
  {
    name: "a missing store file",
    edit: (c) => c.replace(/path: (\S+)app-2\.env/, "path: $1does-not-exist.env"),
    expect: [/app-2/, /does-not-exist\.env/],
  },
  {
    name: "a YAML syntax error",
    edit: (c) => c.replace("credential:", "credential: [unclosed"),
    expect: [/invalid config/],
  },
];

describe("bad input changes nothing and exits 2 with the place named", () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      await writeFile(ws.configPath, testCase.edit(goodConfig));
      const twilioBefore = JSON.stringify(emulator.snapshot());
      const filesBefore = await Promise.all(ws.storeFiles.map((f) => readFile(f)));
      for (const command of ["plan", "rotate"]) {
        const run = await runCli(cliArgs(ws, command), { env: { ...ws.env, ...(testCase.env ?? {}) } });
        expect(run.code, run.stdout + run.stderr).toBe(2);
        const result = JSON.parse(run.stdout);
        const text = [result.error, ...(result.problems ?? []), result.hint ?? ""].join("\n");
        for (const pattern of testCase.expect) expect(text).toMatch(pattern);
      }
      expect(JSON.stringify(emulator.snapshot())).toBe(twilioBefore);
      expect(await Promise.all(ws.storeFiles.map((f) => readFile(f)))).toEqual(filesBefore);
      expect(await journals(ws)).toBe("");
    });
  }

  it("a config file that does not exist", async () => {
    const run = await runCli(["rotate", "--config", `${ws.dir}/nope.yaml`, "--json"], { env: ws.env });
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result.error).toContain("nope.yaml");
    expect(result.error).toContain("file not found");
    expect(result.hint).toContain("--config");
  });

  it("a wrong admin token gets 20003 with likely causes", async () => {
    await writeFile(ws.configPath, goodConfig);
    const run = await runCli(cliArgs(ws, "plan"), { env: { ...ws.env, [ADMIN_VARIABLE]: ` ${"0".repeat(32)}\n` } });
    expect(run.code).toBe(2);
    const problems = JSON.parse(run.stdout).problems.join("\n");
    expect(problems).toContain("20003");
    expect(problems).toContain("whitespace");
  });
});
