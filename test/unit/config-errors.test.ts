/**
 * The loader's error messages: YAML syntax located at the right line with one masked excerpt, schema issues
 * worded as what is expected (unions, discriminators, unknown keys with "did you mean"), SIDs diagnosed and
 * normalised, URLs refused with userinfo / a path, and no secret-shaped value ever echoed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { excerpt, maskTokenLike } from "../../src/config/excerpt.js";
import { loadConfig, parseConfigText, validateConfig } from "../../src/config/load.js";
import { closest, editDistance } from "../../src/config/suggest.js";
import { ConfigError } from "../../src/errors.js";
import { redact } from "../../src/util/mask.js";

const TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const KEY_SECRET = "Zq7LmN2pR8sT4vW6xY0aB3cD5eF9gH1j";
const PASSWORD = "hunter2-correct-horse";
const ACCOUNT = `AC${"ab".repeat(16)}`;
const KEY = `SK${"cd".repeat(16)}`;

type Json = Record<string, unknown>;

function goodConfig(): Json {
  return {
    version: 1,
    twilio: {
      accountSid: ACCOUNT,
      admin: { authToken: { env: "TWILIO_AUTH_TOKEN" } },
      baseUrl: "http://127.0.0.1:4010",
    },
    credential: { type: "api-key" },
    stores: [{ name: "host", type: "dotenv-file", path: "/etc/app/twilio.env" }],
  };
}

/** The ConfigError `fn` throws; fails the test if it throws anything else or nothing. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

function problemsOf(edit: (config: Json & { twilio: Json; stores: Json[] }) => void): string {
  const config = goodConfig() as Json & { twilio: Json; stores: Json[] };
  edit(config);
  const error = configError(() => validateConfig(config, "/etc/rotator.yaml"));
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain("/etc/rotator.yaml");
  return error.problems.join("\n");
}

function expectNoSecrets(text: string): void {
  for (const secret of [TOKEN, KEY_SECRET, PASSWORD]) expect(text).not.toContain(secret);
}

describe("YAML syntax errors", () => {
  const syntax = (text: string) => configError(() => parseConfigText(text, "/etc/rotator.yaml"));

  it("a missing } at the end of a 4-line file is on line 4, where the } belongs, with the line and a caret", () => {
    const text =
      "version: 1\ncredential: { type: api-key }\nstores: []\ntwilio: { accountSid: AC1, admin: { authToken: { env: T } }\n";
    const error = syntax(text);
    expect(error.problems).toHaveLength(1);
    const [head, line, caret] = (error.problems[0] ?? "").split("\n");
    expect(head).toBe(
      '/etc/rotator.yaml:4:60: missing "}": a { … } opened on this line or above is not closed (add "}" where it ends)',
    );
    expect(line?.trim()).toBe("twilio: { accountSid: AC1, admin: { authToken: { env: T } }");
    expect(caret?.indexOf("^")).toBe(line?.length ?? 0);
    expect(head).not.toMatch(/:\s*$/);
    expect(error.hint).toContain("YAML");
  });

  it("a missing } in the middle points at the end of the unclosed line, not at the next key", () => {
    const error = syntax("version: 1\ntwilio: { accountSid: AC1\ncredential: { type: api-key }\n");
    expect(error.problems[0]).toMatch(/^\/etc\/rotator\.yaml:2:26: missing "}"/);
  });

  it("an unclosed quote points at where it opens", () => {
    const error = syntax('version: 1\nstores:\n  - name: "host\n    type: dotenv-file\n');
    expect(error.problems[0]).toMatch(
      /^\/etc\/rotator\.yaml:3:11: this quoted value is never closed: add the closing "/,
    );
    expect(error.problems[0]).toContain('  - name: "host');
  });

  it("tabs, duplicate keys and several documents are named in words", () => {
    expect(syntax("version: 1\ntwilio:\n\taccountSid: x\n").problems[0]).toMatch(/:3:1: a tab is used for indentation/);
    expect(syntax("version: 1\nversion: 2\n").problems[0]).toMatch(/:2:1: this key appears twice/);
    expect(syntax("version: 1\n---\nversion: 1\n").problems[0]).toMatch(/more than one YAML document/);
  });

  it("shows only the offending line, with a token pasted into it masked and the caret still in place", () => {
    const text = `version: 1\ntwilio:\n  admin: { authToken: ${TOKEN}: x }\n  accountSid: ${ACCOUNT}\n`;
    const problem = syntax(text).problems[0] ?? "";
    expectNoSecrets(problem);
    const [, line, caret] = problem.split("\n");
    expect(line?.trim()).toBe("admin: { authToken: [REDACTED]: x }");
    expect(line?.slice(caret?.indexOf("^"))).toMatch(/^\[REDACTED\]/);
    // Neither neighbour is shown.
    expect(problem).not.toContain("version: 1");
    expect(problem).not.toContain("accountSid");
  });

  it("a YAML alias bomb is refused as bad input naming the file and line, not a crash", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [name, previous] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
      ["f", "e"],
    ]) {
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(",")}]`);
    }
    const error = syntax(`${lines.join("\n")}\n`);
    expect(error.exitCode).toBe(2);
    expect(error.problems[0]).toMatch(/^\/etc\/rotator\.yaml:2:\d+: YAML aliases .*billion laughs/);
  });

  it("JSON is read as YAML and located the same way", () => {
    expect(syntax('{\n  "version": 1,,\n  "x": 2\n}\n').problems[0]).toMatch(/^\/etc\/rotator\.yaml:2:16: /);
  });
});

describe("excerpts", () => {
  it("masks token-shaped runs and keeps SIDs in their masked form", () => {
    expect(maskTokenLike(`a ${TOKEN} b ${ACCOUNT} c ${KEY}`)).toBe("a [REDACTED] b AC…abab c SK…cdcd");
    expect(maskTokenLike("short abc123 stays")).toBe("short abc123 stays");
  });

  it("cuts a very long line around the caret", () => {
    const [line, caret] = excerpt(`${"x ".repeat(200)}BAD${" y".repeat(200)}`, 401);
    expect(line?.length).toBeLessThanOrEqual(122);
    expect(line?.slice(caret?.indexOf("^"))).toMatch(/^BAD/);
  });
});

describe("schema messages say what is expected", () => {
  it("unknown keys get 'did you mean' against the keys allowed at that place", () => {
    const problems = problemsOf((c) => {
      c.twilio.baseURL = c.twilio.baseUrl;
      delete c.twilio.baseUrl;
      c.twilio.basUrl = "x";
      (c.credential as Json).maxAgeDay = 30;
      (c.stores[0] as Json).pathh = "x";
    });
    expect(problems).toContain("twilio.baseURL: unknown key; did you mean baseUrl?");
    expect(problems).toContain("twilio.basUrl: unknown key; did you mean baseUrl?");
    expect(problems).toContain("credential.maxAgeDay: unknown key; did you mean maxAgeDays?");
    expect(problems).toContain("stores[0].pathh: unknown key; did you mean path?");
  });

  it("keys are matched against the store type given, and a key with no near match lists what is allowed", () => {
    const problems = problemsOf((c) => {
      c.stores[0] = {
        name: "vault",
        type: "vault-kv2",
        address: "https://vault.example.com:8200",
        pth: "apps/twilio",
        auth: { method: "approle", roleID: "r", secretId: { env: "VAULT_SECRET_ID" } },
      };
      (c.credential as Json).colour = "blue";
    });
    expect(problems).toContain("stores[0].pth: unknown key; did you mean path?");
    expect(problems).toContain("stores[0].auth.roleID: unknown key; did you mean roleId?");
    expect(problems).toMatch(/credential\.colour: unknown key; the keys allowed here are type, keyType, policy/);
  });

  it("a key pasted as a token is masked in the unknown-key message", () => {
    const problems = problemsOf((c) => {
      c.twilio.admin = { authToken: { env: "TWILIO_AUTH_TOKEN" }, [TOKEN]: 1 };
    });
    expectNoSecrets(problems);
    expect(problems).toContain("twilio.admin.[REDACTED]: unknown key that looks like a secret value");
  });

  it("a literal secret where { env: NAME } belongs says so, for every reference field, without echoing it", () => {
    const cases: Array<[(c: Json & { twilio: Json; stores: Json[] }) => void, string]> = [
      [
        (c) => {
          c.twilio.admin = { authToken: TOKEN };
        },
        "twilio.admin.authToken: must be a reference such as { env: TWILIO_AUTH_TOKEN }, not the token itself " +
          "(secret values never go in the config); move the value to an environment variable",
      ],
      [
        (c) => {
          c.twilio.admin = { apiKeySid: KEY, apiKeySecret: KEY_SECRET };
        },
        "twilio.admin.apiKeySecret: must be a reference such as { env: TWILIO_API_KEY_SECRET }, not the key secret itself",
      ],
      [
        (c) => {
          c.stores[0] = vault({ method: "token", token: TOKEN });
        },
        "stores[0].auth.token: must be a reference such as { env: VAULT_TOKEN }, not the token itself",
      ],
      [
        (c) => {
          c.stores[0] = vault({ method: "approle", roleId: "r", secretId: KEY_SECRET });
        },
        "stores[0].auth.secretId: must be a reference such as { env: VAULT_SECRET_ID }, not the secret_id itself",
      ],
      [
        (c) => {
          c.twilio.admin = { authToken: { env: TOKEN } };
        },
        "twilio.admin.authToken.env: looks like a secret value, not a variable name",
      ],
      [
        (c) => {
          c.consumers = [
            { name: "api", type: "http", url: "http://127.0.0.1:8080/", headers: { Authorization: `Bearer ${TOKEN}` } },
          ];
        },
        'consumers[0].headers["Authorization"]: looks like a secret (32+ letters and digits); give it as { env: NAME }',
      ],
    ];
    for (const [edit, expected] of cases) {
      const problems = problemsOf(edit);
      expect(problems).toContain(expected);
      expectNoSecrets(problems);
    }
  });

  it("a header name (a key the user chose) is written in brackets, so output redaction leaves the message whole", () => {
    const problems = problemsOf((c) => {
      c.consumers = [{ name: "api", type: "http", url: "http://127.0.0.1:8080/", headers: { Authorization: 5 } }];
    });
    expect(problems).toBe(
      'consumers[0].headers["Authorization"]: must be text, or a reference such as { env: NAME } for a secret value',
    );
    expect(redact(problems)).toBe(problems);
  });

  it("unions say which forms they accept when none fits", () => {
    expect(problemsOf((c) => (c.twilio.admin = {}))).toBe(
      "twilio.admin: must be either { authToken: { env: NAME } } (the Auth Token) or " +
        "{ apiKeySid: SK…, apiKeySecret: { env: NAME } } (a Main API key)",
    );
    expect(problemsOf((c) => (c.twilio.admin = { authToken: { env: "T" }, apiKeySid: KEY }))).toBe(
      "twilio.admin.apiKeySid: does not go with the other keys given here; use one of the forms { authToken } or " +
        "{ apiKeySid, apiKeySecret }",
    );
    expect(
      problemsOf((c) => (c.twilio.admin = { authToken: { env: "T" }, apiKeySid: KEY, apiKeySecret: { env: "S" } })),
    ).toMatch(/^twilio\.admin: must be either \{ authToken/);
    expect(problemsOf((c) => (c.stores[0] = vault({ method: "approle", roleId: 5, secretId: { env: "S" } })))).toBe(
      "stores[0].auth.roleId: must be the role_id as text, or a reference such as { env: VAULT_ROLE_ID }",
    );
  });

  it("an unknown or missing type lists the known ones, with 'did you mean'", () => {
    expect(problemsOf((c) => ((c.stores[0] as Json).type = "dotenv"))).toBe(
      'stores[0].type: "dotenv" is not a known store type; use one of aws-secrets-manager, azure-key-vault, dotenv-file, kubernetes-secret, vault-kv2 ' +
        "(did you mean dotenv-file?)",
    );
    expect(problemsOf((c) => delete (c.stores[0] as Json).type)).toBe(
      "stores[0].type: missing: give the store type, one of aws-secrets-manager, azure-key-vault, dotenv-file, kubernetes-secret, vault-kv2",
    );
    expect(problemsOf((c) => (c.stores[0] = vault({ method: "tokn" })))).toBe(
      'stores[0].auth.method: "tokn" is not a known auth method; use one of token, approle, kubernetes (did you mean token?)',
    );
    expect(problemsOf((c) => (c.consumers = [{ name: "api", type: "htpp" }]))).toBe(
      'consumers[0].type: "htpp" is not a known consumer type; use one of http, command, kubernetes (did you mean http?)',
    );
    const masked = problemsOf((c) => ((c.stores[0] as Json).type = TOKEN));
    expectNoSecrets(masked);
    expect(masked).toContain('"[REDACTED]" is not a known store type');
  });

  it("wrong types, values and ranges say what is expected", () => {
    const problems = problemsOf((c) => {
      c.verify = { newKeyTimeoutSeconds: "five", consumersPollSeconds: 0 };
      c.credential = { type: "api-key", keyType: "standrd", maxAgeDays: 1.5 };
      delete c.twilio.accountSid;
    });
    expect(problems).toContain("twilio.accountSid: missing: this key is required (text)");
    expect(problems).toContain("credential.keyType: must be one of standard, restricted (did you mean standard?)");
    expect(problems).toContain("credential.maxAgeDays: must be a whole number");
    expect(problems).toContain("verify.newKeyTimeoutSeconds: must be a number, not text");
    expect(problems).toContain("verify.consumersPollSeconds: must be at least 0.1");
    expect(problems).not.toMatch(/Invalid input/);
    expect(configError(() => validateConfig(null, "/etc/rotator.yaml")).problems).toEqual([
      "(top level): the file is empty; `rotator init` writes a commented config to start from",
    ]);
  });
});

function vault(auth: Json): Json {
  return { name: "vault", type: "vault-kv2", address: "https://vault.example.com:8200", path: "apps/twilio", auth };
}

describe("SIDs", () => {
  const sidProblems = (accountSid: unknown) => problemsOf((c) => (c.twilio.accountSid = accountSid));

  it("a malformed account SID is diagnosed with the fix, never quoted", () => {
    const hex = "ab".repeat(16);
    expect(sidProblems(` AC${hex}\n`)).toBe(
      "twilio.accountSid: has leading or trailing whitespace (a stray space or newline?); remove it",
    );
    expect(sidProblems(`"AC${hex}"`)).toContain(
      "is wrapped in quotes that are part of the value; remove the inner quotes",
    );
    expect(sidProblems(`AC${hex.slice(1)}`)).toContain(
      "is 33 characters; an account SID is 34 characters: AC followed by 32 hex digits (truncated when copied?)",
    );
    // 32 characters, as a secret has, but AC and hex digits: a SID cut short, not a secret.
    expect(sidProblems(`AC${hex.slice(2)}`)).toBe(
      "twilio.accountSid: is 32 characters; an account SID is 34 characters: AC followed by 32 hex digits (truncated when copied?)",
    );
    expect(sidProblems(`ac${hex}`)).toContain('starts with "ac"; an account SID starts with upper-case AC');
    expect(sidProblems(`SK${hex}`)).toContain("is an API key SID (SK…), not an account SID (AC…)");
    expect(sidProblems(`AC${"g".repeat(32)}`)).toContain("has characters other than hex digits");
    const token = sidProblems(TOKEN);
    expect(token).toContain("looks like a secret (an Auth Token or key secret");
    expect(token).toContain("rotate it");
    expectNoSecrets(token);
    expect(problemsOf((c) => (c.twilio.admin = { apiKeySid: ACCOUNT, apiKeySecret: { env: "S" } }))).toContain(
      "twilio.admin.apiKeySid: is an account SID (AC…), not an API key SID (SK…)",
    );
  });

  it("upper-case hex is accepted and normalised to lower case, so SIDs compare equal downstream", () => {
    const config = goodConfig() as Json & { twilio: Json };
    config.twilio.accountSid = ACCOUNT.toUpperCase();
    config.twilio.admin = { apiKeySid: KEY.toUpperCase(), apiKeySecret: { env: "S" } };
    const parsed = validateConfig(config, "/etc/rotator.yaml");
    expect(parsed.twilio.accountSid).toBe(ACCOUNT);
    expect(parsed.twilio.admin).toEqual({ apiKeySid: KEY, apiKeySecret: { env: "S" } });
  });
});

describe("URLs", () => {
  const withUrl = (where: string, url: string) =>
    problemsOf((c) => {
      if (where === "twilio") c.twilio.baseUrl = url;
      if (where === "aws") c.stores.push({ name: "aws", type: "aws-secrets-manager", secretId: "x", endpoint: url });
      if (where === "vault")
        c.stores.push({ ...vault({ method: "token", token: { env: "VAULT_TOKEN" } }), address: url });
      if (where === "consumer") c.consumers = [{ name: "api", type: "http", url }];
      if (where === "reload") {
        c.consumers = [{ name: "api", type: "http", url: "http://127.0.0.1:8080/", reload: { url } }];
      }
    });

  it("a user name or password is refused everywhere a URL is accepted, and the password is not echoed", () => {
    const places: Array<[string, string]> = [
      ["twilio", "twilio.baseUrl"],
      ["aws", "stores[1].endpoint"],
      ["vault", "stores[1].address"],
      ["consumer", "consumers[0].url"],
      ["reload", "consumers[0].reload.url"],
    ];
    for (const [where, path] of places) {
      const problems = withUrl(where, `http://admin:${PASSWORD}@127.0.0.1:4010`);
      expect(problems).toContain(`${path}: must not hold a user name or password (user:password@)`);
      expectNoSecrets(problems);
      expect(problems).not.toContain("admin:");
    }
  });

  it("twilio.baseUrl must be an origin: no path other than /, no query, no fragment", () => {
    for (const url of ["http://127.0.0.1:4010/2010-04-01", "http://127.0.0.1:4010/?x=1", "http://127.0.0.1:4010#a"]) {
      expect(withUrl("twilio", url)).toBe(
        "twilio.baseUrl: must be an origin such as http://127.0.0.1:4010: scheme, host and port, with no path, " +
          "query or fragment (rotator adds the API paths itself)",
      );
    }
    const config = goodConfig() as Json & { twilio: Json };
    config.twilio.baseUrl = "http://127.0.0.1:4010/";
    expect(validateConfig(config, "/etc/rotator.yaml").twilio.baseUrl).toBe("http://127.0.0.1:4010/");
  });

  it("an endpoint or address takes no query; a non-http URL says what is expected", () => {
    expect(withUrl("aws", "http://127.0.0.1:5000/?a=b")).toContain("stores[1].endpoint: must not have a query");
    expect(withUrl("vault", "https://vault:8200#x")).toContain("stores[1].address: must not have a query");
    expect(withUrl("twilio", "ftp://127.0.0.1")).toBe(
      "twilio.baseUrl: must be an http:// or https:// URL such as http://127.0.0.1:4010",
    );
  });
});

describe("did you mean", () => {
  it("counts a swap of adjacent letters as one edit and ignores case", () => {
    expect(editDistance("baesUrl", "baseUrl")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(closest("baseURL", ["accountSid", "admin", "baseUrl"])).toBe("baseUrl");
    expect(closest("colour", ["type", "keyType", "policy"])).toBeUndefined();
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rotator-config-errors-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a directory given as the config names the file to pass instead", async () => {
    const error = await loadConfig(dir, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toBe(
      `is a directory; pass the config file inside it, e.g. ${join(dir, "rotator.yaml")}`,
    );
    await writeFile(join(dir, "rotator.yml"), stringify(goodConfig()));
    const named = (await loadConfig(dir, {}).catch((e: unknown) => e)) as ConfigError;
    expect(named.problems[0]).toContain(`(it holds ${join(dir, "rotator.yml")})`);
    expect(named.hint).toBe(`pass --config ${join(dir, "rotator.yml")}`);
  });

  it("a normalised SID is what the loaded config and the admin credential carry", async () => {
    const config = goodConfig() as Json & { twilio: Json };
    config.twilio.accountSid = ACCOUNT.toUpperCase();
    const file = join(dir, "upper.yaml");
    await writeFile(file, stringify(config));
    const loaded = await loadConfig(file, { TWILIO_AUTH_TOKEN: TOKEN });
    expect(loaded.config.twilio.accountSid).toBe(ACCOUNT);
    expect(loaded.admin?.accountSid).toBe(ACCOUNT);
    expect(loaded.admin?.username).toBe(ACCOUNT);
  });
});
