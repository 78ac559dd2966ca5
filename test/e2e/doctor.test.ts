/**
 * `rotator doctor` (issue #11), table-driven against the Twilio emulator: each broken credential, from the
 * environment, an env file or a config's stores, with the diagnosis and fix doctor must give, and healthy
 * credentials of both kinds. Runs in-process through the same program the binary runs; every output is
 * scanned for the secrets the emulator issued (useE2e).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding } from "../../src/doctor/findings.js";
import { createTwilioClient } from "../../src/twilio/client.js";
import { ADMIN_VARIABLE, adminClient, configYaml, runInProcess, useE2e, type Workspace } from "./harness.js";

const e2e = useE2e();

interface DoctorJson {
  status: "healthy" | "unhealthy";
  exitCode: number;
  findings: Finding[];
}

async function doctor(args: string[], env: Record<string, string | undefined>) {
  const run = await runInProcess(["doctor", "--json", ...args], { env });
  return { code: run.code, result: JSON.parse(run.stdout) as DoctorJson, stdout: run.stdout };
}

/** A process environment without any TWILIO_* variable of the test runner's own. */
function bareEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("TWILIO_")) env[name] = value;
  return { ...env, ...extra };
}

async function newKey(accountSid?: string, token?: string, region?: { region: string; edge: string }) {
  const em = e2e.emulator;
  const sid = accountSid ?? em.accountSid;
  const client =
    token === undefined && region === undefined
      ? adminClient(em)
      : createTwilioClient({
          accountSid: sid,
          username: sid,
          password: token ?? em.primaryAuthToken(sid, region === undefined ? {} : { region: region.region }),
          baseUrl: em.baseUrl,
          region: region?.region,
          edge: region?.edge,
        });
  const key = await client.api.v2010.accounts(sid).newKeys.create({ friendlyName: "doctor-test" });
  return { accountSid: sid, sid: key.sid, secret: key.secret };
}

const keyEnv = (key: { accountSid: string; sid: string; secret: string }) => ({
  TWILIO_ACCOUNT_SID: key.accountSid,
  TWILIO_API_KEY: key.sid,
  TWILIO_API_SECRET: key.secret,
});

interface Expectation {
  check: string;
  subject?: RegExp;
  cause: RegExp;
  fix: RegExp;
  certainty?: "certain" | "likely";
}

interface Case {
  name: string;
  /** Returns the doctor arguments and environment. */
  setup: () => Promise<{ args: string[]; env: Record<string, string | undefined> }>;
  expect: Expectation[];
}

/** A config (for the main account unless `twilio` says otherwise) with one dotenv store per credential. */
async function configWith(
  ws: Workspace,
  stores: Array<{ accountSid: string; sid: string; secret: string }>,
  twilio: Record<string, unknown> = {},
): Promise<string> {
  const files = await Promise.all(
    stores.map(async (key, i) => {
      const file = join(ws.dir, `doctor-${Math.random().toString(16).slice(2)}-${i}.env`);
      await writeFile(
        file,
        `TWILIO_ACCOUNT_SID=${key.accountSid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
        { mode: 0o600 },
      );
      return file;
    }),
  );
  const path = join(ws.dir, `doctor-${Math.random().toString(16).slice(2)}.yaml`);
  const config = {
    version: 1,
    twilio: {
      accountSid: e2e.emulator.accountSid,
      admin: { authToken: { env: ADMIN_VARIABLE } },
      baseUrl: e2e.emulator.baseUrl,
      ...twilio,
    },
    credential: { type: "api-key" },
    stores: files.map((file, i) => ({ name: `store-${i + 1}`, type: "dotenv-file", path: file })),
  };
  await writeFile(path, configYaml(config));
  return path;
}

/** An auth-token config for account `sid` (admin: env SUB_TOKEN), one dotenv store per token. */
async function tokenConfig(ws: Workspace, sid: string, tokens: string[]): Promise<string> {
  const files = await Promise.all(
    tokens.map(async (token, i) => {
      const file = join(ws.dir, `doctor-token-${Math.random().toString(16).slice(2)}-${i}.env`);
      await writeFile(file, `TWILIO_ACCOUNT_SID=${sid}\nTWILIO_AUTH_TOKEN=${token}\n`, { mode: 0o600 });
      return file;
    }),
  );
  const path = join(ws.dir, `doctor-token-${Math.random().toString(16).slice(2)}.yaml`);
  const config = {
    version: 1,
    twilio: { accountSid: sid, admin: { authToken: { env: "SUB_TOKEN" } }, baseUrl: e2e.emulator.baseUrl },
    credential: { type: "auth-token" },
    stores: files.map((file, i) => ({ name: `store-${i + 1}`, type: "dotenv-file", path: file })),
  };
  await writeFile(path, configYaml(config));
  return path;
}

let wsPromise: Promise<Workspace> | undefined;
const ws = () => {
  wsPromise ??= e2e.workspace(1);
  return wsPromise;
};
const base = () => ["--base-url", e2e.emulator.baseUrl];

const cases: Case[] = [
  {
    name: "environment: nothing set",
    setup: async () => ({ args: base(), env: bareEnv() }),
    expect: [
      {
        check: "variables",
        cause: /TWILIO_ACCOUNT_SID is not set, TWILIO_AUTH_TOKEN is not set/,
        fix: /set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "environment: an empty key secret",
    setup: async () => ({ args: base(), env: bareEnv({ ...keyEnv(await newKey()), TWILIO_API_SECRET: "" }) }),
    expect: [{ check: "variables", cause: /TWILIO_API_SECRET is empty/, fix: /set TWILIO_API_SECRET/ }],
  },
  {
    name: "environment: an account SID with a trailing newline and space",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ ...keyEnv(key), TWILIO_ACCOUNT_SID: `${key.accountSid} \n` }) };
    },
    expect: [
      {
        check: "account-sid-format",
        cause: /TWILIO_ACCOUNT_SID has leading or trailing whitespace/,
        fix: /copy the Account SID again/,
      },
      {
        check: "authenticates",
        cause: /accepts it once the stray characters found above are removed/,
        fix: /remove the stray characters/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "environment: a key SID cut off at the end",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ ...keyEnv(key), TWILIO_API_KEY: key.sid.slice(0, -1) }) };
    },
    expect: [
      {
        check: "key-sid-format",
        cause: /TWILIO_API_KEY is 33 characters; an API key SID is 34 characters.*truncated/,
        fix: /copy the key's SID/,
      },
      { check: "authenticates", cause: /not tried: the SIDs are malformed/, fix: /fix the SIDs first/ },
    ],
  },
  {
    name: "environment: an account SID cut off at the start",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ ...keyEnv(key), TWILIO_ACCOUNT_SID: key.accountSid.slice(1) }) };
    },
    expect: [
      {
        check: "account-sid-format",
        cause: /lost its first character.*cut off at the start/,
        fix: /copy the Account SID again/,
      },
    ],
  },
  {
    name: "environment: a key secret wrapped in quotes that are part of the value",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ ...keyEnv(key), TWILIO_API_SECRET: `'${key.secret}'` }) };
    },
    expect: [
      { check: "key-secret-format", cause: /TWILIO_API_SECRET is wrapped in quotes/, fix: /whole and unquoted/ },
      { check: "authenticates", cause: /stray characters/, fix: /remove the stray characters/, certainty: "certain" },
    ],
  },
  {
    name: "environment: a key secret stored where the auth token belongs",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ TWILIO_ACCOUNT_SID: key.accountSid, TWILIO_AUTH_TOKEN: key.secret }) };
    },
    expect: [
      {
        check: "auth-token-format",
        cause: /TWILIO_AUTH_TOKEN looks like an API key secret/,
        fix: /primary Auth Token/,
      },
    ],
  },
  {
    name: "environment: the auth token stored where the key secret belongs",
    setup: async () => {
      const key = await newKey();
      return { args: base(), env: bareEnv({ ...keyEnv(key), TWILIO_API_SECRET: e2e.emulator.authToken }) };
    },
    expect: [
      {
        check: "key-secret-format",
        cause: /TWILIO_API_SECRET looks like an Auth Token/,
        fix: /secret Twilio showed once/,
      },
    ],
  },
  {
    name: "environment: a key of Region ie1 used without TWILIO_REGION",
    setup: async () => ({
      args: base(),
      env: bareEnv(keyEnv(await newKey(undefined, undefined, { region: "ie1", edge: "dublin" }))),
    }),
    expect: [
      {
        check: "authenticates",
        cause: /belongs to Twilio Region ie1, and the call went to us1/,
        fix: /TWILIO_REGION=ie1 and TWILIO_EDGE=dublin/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "environment: a US1 key with TWILIO_REGION=au1",
    setup: async () => ({
      args: base(),
      env: bareEnv({ ...keyEnv(await newKey()), TWILIO_REGION: "au1", TWILIO_EDGE: "sydney" }),
    }),
    expect: [
      {
        check: "authenticates",
        cause: /belongs to Twilio Region us1, and the call went to au1/,
        fix: /TWILIO_REGION=us1/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "environment: test credentials used against live resources",
    setup: async () => {
      const test = e2e.emulator.testCredentials();
      return { args: base(), env: bareEnv({ TWILIO_ACCOUNT_SID: test.accountSid, TWILIO_AUTH_TOKEN: test.authToken }) };
    },
    expect: [
      {
        check: "authenticates",
        cause: /test credentials \(HTTP 403, error 20008\)/,
        fix: /use the live Account SID/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "environment: a deleted key, with nothing else to ask",
    setup: async () => {
      const key = await newKey();
      await adminClient(e2e.emulator).api.v2010.accounts(key.accountSid).keys(key.sid).remove();
      return { args: base(), env: bareEnv(keyEnv(key)) };
    },
    expect: [
      { check: "authenticates", cause: /was deleted or revoked/, fix: /put the current key here/, certainty: "likely" },
    ],
  },
  {
    name: "environment: an old Auth Token of a subaccount (reset since)",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-old-" });
      e2e.emulator.rotatePrimaryToken(sub!.sid);
      return { args: base(), env: bareEnv({ TWILIO_ACCOUNT_SID: sub!.sid, TWILIO_AUTH_TOKEN: sub!.authToken }) };
    },
    expect: [
      { check: "authenticates", cause: /an old Auth Token/, fix: /current primary Auth Token/, certainty: "likely" },
    ],
  },
  {
    name: "env file: a byte-order mark and Windows line endings",
    setup: async () => {
      const key = await newKey();
      const file = join((await ws()).dir, "bom.env");
      const text = `\uFEFFTWILIO_ACCOUNT_SID=${key.accountSid}\r\nTWILIO_API_KEY=${key.sid}\r\nTWILIO_API_SECRET=${key.secret}\r\n`;
      await writeFile(file, text, { mode: 0o600 });
      return { args: [...base(), "--dotenv", file], env: bareEnv() };
    },
    expect: [
      {
        check: "file-format",
        subject: /^env file .*bom\.env/,
        cause: /byte-order mark.*Windows line endings/s,
        fix: /UTF-8 without BOM/,
      },
    ],
  },
  {
    name: "env file: a space inside the quotes of the secret",
    setup: async () => {
      const key = await newKey();
      const file = join((await ws()).dir, "space.env");
      await writeFile(
        file,
        `TWILIO_ACCOUNT_SID=${key.accountSid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET="${key.secret} "\n`,
      );
      return { args: [...base(), "--dotenv", file], env: bareEnv() };
    },
    expect: [
      {
        check: "key-secret-format",
        subject: /^env file/,
        cause: /TWILIO_API_SECRET has leading or trailing whitespace/,
        fix: /whole and unquoted/,
      },
      { check: "authenticates", subject: /^env file/, cause: /stray characters/, fix: /remove/, certainty: "certain" },
    ],
  },
  {
    name: "env file with a config's admin: a token that is not the account's current one",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-known-" });
      const old = sub!.authToken;
      const current = e2e.emulator.rotatePrimaryToken(sub!.sid);
      const key = await newKey(sub!.sid, current);
      const file = join((await ws()).dir, "old-token.env");
      await writeFile(file, `TWILIO_ACCOUNT_SID=${sub!.sid}\nTWILIO_AUTH_TOKEN=${old}\n`);
      const config = await configWith(await ws(), [key], {
        accountSid: sub!.sid,
        admin: { authToken: { env: "SUB_TOKEN" } },
      });
      return { args: ["--dotenv", file, "--config", config], env: bareEnv({ SUB_TOKEN: current }) };
    },
    expect: [
      {
        check: "authenticates",
        subject: /^env file/,
        cause: /Twilio knows account AC…\w{4} \(it is active\) and refuses this token/,
        fix: /current primary Auth Token/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "store: a key deleted behind rotator's back",
    setup: async () => {
      const key = await newKey();
      await adminClient(e2e.emulator).api.v2010.accounts(key.accountSid).keys(key.sid).remove();
      const w = await ws();
      return {
        args: ["--config", await configWith(w, [key])],
        env: bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken }),
      };
    },
    expect: [
      {
        check: "authenticates",
        subject: /^store "store-1"/,
        cause:
          /is not in account AC…\w{4} \(the admin credential looked\): it was deleted or revoked, or it is a key of another account/,
        fix: /put the current key here/,
        certainty: "likely",
      },
    ],
  },
  {
    name: "store: a key whose secret is wrong (the key exists)",
    setup: async () => {
      const key = await newKey();
      const other = await newKey();
      return {
        args: ["--config", await configWith(await ws(), [{ ...key, secret: other.secret }])],
        env: bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken }),
      };
    },
    expect: [
      {
        check: "authenticates",
        cause: /exists in account AC…\w{4} and is refused: the secret is not this key's/,
        fix: /secret that belongs to this key/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "store: a subaccount's key used with the parent's account SID",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-sub-" });
      const key = await newKey(sub!.sid, sub!.authToken);
      return {
        args: ["--config", await configWith(await ws(), [{ ...key, accountSid: e2e.emulator.accountSid }])],
        env: bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken }),
      };
    },
    expect: [
      {
        check: "authenticates",
        cause: /belongs to subaccount AC…\w{4}, and is used with the account SID/,
        fix: /use the subaccount's SID/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "store: the parent's key used with a subaccount's SID",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-parent-" });
      const parentKey = await newKey();
      return {
        args: [
          "--config",
          await configWith(await ws(), [{ ...parentKey, accountSid: sub!.sid }], {
            accountSid: sub!.sid,
            admin: { authToken: { env: "SUB_TOKEN" } },
          }),
        ],
        env: bareEnv({ SUB_TOKEN: sub!.authToken }),
      };
    },
    expect: [
      {
        check: "authenticates",
        cause: /belongs to the parent account AC…\w{4}, and is used with its subaccount/,
        fix: /credentials made in the subaccount/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "config: a Standard key as the admin credential",
    setup: async () => {
      const standard = await newKey();
      const key = await newKey();
      return {
        args: [
          "--config",
          await configWith(await ws(), [key], {
            admin: { apiKeySid: standard.sid, apiKeySecret: { env: "STD_SECRET" } },
          }),
        ],
        env: bareEnv({ STD_SECRET: standard.secret }),
      };
    },
    expect: [
      {
        check: "admin-authenticates",
        cause: /is a Standard key: it authenticates .* needs a Main key/,
        fix: /Auth Token, or a Main key/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "store: a key of a suspended subaccount (the parent's Main key as admin)",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-suspended-" });
      const key = await newKey(sub!.sid, sub!.authToken);
      const main = e2e.emulator.createMainKey();
      e2e.emulator.setAccountStatus(sub!.sid, "suspended");
      return {
        args: [
          "--config",
          await configWith(await ws(), [key], {
            accountSid: sub!.sid,
            admin: { apiKeySid: main.sid, apiKeySecret: { env: "MAIN_SECRET" } },
          }),
        ],
        env: bareEnv({ MAIN_SECRET: main.secret }),
      };
    },
    expect: [
      {
        check: "authenticates",
        cause: /the account AC…\w{4} is suspended/,
        fix: /reactivate the account/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "store: a key of a closed subaccount",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-closed-" });
      const key = await newKey(sub!.sid, sub!.authToken);
      const main = e2e.emulator.createMainKey();
      e2e.emulator.setAccountStatus(sub!.sid, "closed");
      return {
        args: [
          "--config",
          await configWith(await ws(), [key], {
            accountSid: sub!.sid,
            admin: { apiKeySid: main.sid, apiKeySecret: { env: "MAIN_SECRET" } },
          }),
        ],
        env: bareEnv({ MAIN_SECRET: main.secret }),
      };
    },
    expect: [
      { check: "authenticates", cause: /is closed/, fix: /a closed account cannot be reopened/, certainty: "certain" },
    ],
  },
  {
    name: "stores: a subaccount's credential in a store of the main account's config (staging in production)",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-staging-" });
      const key = await newKey(sub!.sid, sub!.authToken);
      return {
        args: ["--config", await configWith(await ws(), [key])],
        env: bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken }),
      };
    },
    expect: [
      {
        check: "account-matches-config",
        cause:
          /holds a credential of account AC…\w{4}, but twilio.accountSid is AC…\w{4} \(staging credentials in production\?\)/,
        fix: /put a credential of the config's account/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "stores: two stores holding different keys (drift)",
    setup: async () => ({
      args: ["--config", await configWith(await ws(), [await newKey(), await newKey()])],
      env: bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken }),
    }),
    expect: [
      {
        check: "stores-agree",
        cause: /the stores disagree \(drift\): store-1: SK…\w{4}, store-2: SK…\w{4}/,
        fix: /make every store hold/,
        certainty: "certain",
      },
    ],
  },
  {
    name: "auth-token config: a store holding the token from before a promotion",
    setup: async () => {
      const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-token-" });
      const old = sub!.authToken;
      const current = e2e.emulator.rotatePrimaryToken(sub!.sid);
      return {
        args: ["--config", await tokenConfig(await ws(), sub!.sid, [old, current])],
        env: bareEnv({ SUB_TOKEN: current }),
      };
    },
    expect: [
      {
        check: "authenticates",
        subject: /^store "store-1"/,
        cause: /Twilio knows account AC…\w{4} \(it is active\) and refuses this token/,
        fix: /current primary Auth Token/,
        certainty: "certain",
      },
      { check: "stores-agree", cause: /the stores disagree \(drift\)/, fix: /make every store hold/ },
    ],
  },
  {
    name: "config: the admin variable not set",
    setup: async () => ({ args: ["--config", await configWith(await ws(), [await newKey()])], env: bareEnv() }),
    expect: [
      {
        check: "config",
        cause: /twilio.admin.authToken.env: environment variable TEST_TWILIO_AUTH_TOKEN is not set/,
        fix: /export TEST_TWILIO_AUTH_TOKEN/,
      },
    ],
  },
];

describe("rotator doctor", () => {
  it("has at least 15 broken credentials in its table", () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases)("$name", async (testCase) => {
    const { args, env } = await testCase.setup();
    const { code, result } = await doctor(args, env);
    expect(code).toBe(2);
    expect(result.status).toBe("unhealthy");
    for (const wanted of testCase.expect) {
      const matching = result.findings.filter(
        (f) => f.check === wanted.check && !f.ok && (wanted.subject === undefined || wanted.subject.test(f.subject)),
      );
      expect(matching, `${wanted.check} in ${JSON.stringify(result.findings, null, 2)}`).not.toEqual([]);
      const finding = matching.find((f) => wanted.cause.test(f.cause ?? "")) ?? matching[0]!;
      expect(finding.cause).toMatch(wanted.cause);
      expect(finding.fix).toMatch(wanted.fix);
      if (wanted.certainty !== undefined) expect(finding.certainty).toBe(wanted.certainty);
    }
  });

  it("a healthy API key and a healthy Auth Token: every check passes, exit 0", async () => {
    const key = await newKey();
    const apiKey = await doctor(base(), bareEnv(keyEnv(key)));
    expect(apiKey.code, apiKey.stdout).toBe(0);
    expect(apiKey.result.status).toBe("healthy");
    expect(apiKey.result.findings.map((f) => f.check)).toEqual([
      "variables",
      "account-sid-format",
      "key-sid-format",
      "key-secret-format",
      "authenticates",
    ]);
    const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-healthy-" });
    const token = await doctor(base(), bareEnv({ TWILIO_ACCOUNT_SID: sub!.sid, TWILIO_AUTH_TOKEN: sub!.authToken }));
    expect(token.code, token.stdout).toBe(0);
    expect(token.result.findings.every((f) => f.ok)).toBe(true);
  });

  it("a healthy config: admin, every store, agreement; the human output names each and passes", async () => {
    const key = await newKey();
    const config = await configWith(await ws(), [key, key]);
    const env = bareEnv({ [ADMIN_VARIABLE]: e2e.emulator.authToken });
    const { code, result } = await doctor(["--config", config], env);
    expect(code).toBe(0);
    expect(result.findings.filter((f) => f.check === "authenticates")).toHaveLength(2);
    expect(result.findings.map((f) => f.check)).toContain("stores-agree");
    const human = await runInProcess(["doctor", "--config", config], { env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('store "store-1"');
    expect(human.stdout).toMatch(/healthy: \d+ checks passed/);
  });

  it("a healthy auth-token config: the admin token and every store's token authenticate", async () => {
    const [sub] = e2e.emulator.createSubaccounts(1, { friendlyNamePrefix: "doctor-token-ok-" });
    const config = await tokenConfig(await ws(), sub!.sid, [sub!.authToken, sub!.authToken]);
    const { code, result } = await doctor(["--config", config], bareEnv({ SUB_TOKEN: sub!.authToken }));
    // On failure, the failing checks one per line, not every finding as one line of JSON.
    const failing = result.findings.filter((f) => !f.ok).map((f) => `${f.check} ${f.subject}: ${f.cause ?? ""}`);
    expect(code, failing.join("\n")).toBe(0);
    expect(result.findings.filter((f) => f.check === "auth-token-format" && f.ok)).toHaveLength(2);
  });

  it("a revoked key put back in one store: the journal names the run that revoked it", async () => {
    const w = await e2e.workspace(2);
    const rotate = await runInProcess(["rotate", "--config", w.configPath, "--state-dir", w.stateDir, "--json"], {
      env: w.env,
    });
    expect(rotate.code, rotate.stderr).toBe(0);
    const runId = JSON.parse(rotate.stdout).runId as string;
    const { readStoreKey, envText } = await import("./harness.js");
    w.secrets.push((await readStoreKey(w.storeFiles[0]!)).secret!);
    await writeFile(w.storeFiles[1]!, envText(w.twilio.accountSid, w.seeded.sid, w.seeded.secret, "app-2"), {
      mode: 0o600,
    });
    const { code, result } = await doctor(["--config", w.configPath, "--state-dir", w.stateDir], w.env);
    expect(code).toBe(2);
    const dead = result.findings.find((f) => f.check === "authenticates" && f.subject.startsWith('store "app-2"'));
    expect(dead?.cause).toContain(`was revoked by rotator run ${runId}`);
    expect(dead?.certainty).toBe("certain");
    expect(result.findings.find((f) => f.check === "stores-agree")?.ok).toBe(false);
  });

  it("the human output gives each problem's fix and where to look, and no secret", async () => {
    const key = await newKey();
    const run = await runInProcess(["doctor", ...base()], {
      env: bareEnv({ ...keyEnv(key), TWILIO_API_SECRET: `${key.secret}\n` }),
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("environment (API key)");
    expect(run.stdout).toContain("fix: ");
    expect(run.stdout).toContain("where: Console > Account > API keys & tokens");
    expect(run.stdout).not.toContain(key.secret);
  });
});
