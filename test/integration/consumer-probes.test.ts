/**
 * The consumer probes against real things: node:http and node:https servers on 127.0.0.1 (TLS with a CA and
 * certificates made by the openssl CLI), real child processes for the command probe, and `awaitConsumers`
 * polling a small fleet of real servers. Nothing here is mocked.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import { awaitConsumers, type ConsumerResult } from "../../src/consumer-probes/await.js";
import { createCommandProbe } from "../../src/consumer-probes/command-probe.js";
import { createHttpProbe } from "../../src/consumer-probes/http-probe.js";
import { type ConsumerProbe, createProbe, type Expected } from "../../src/consumer-probes/index.js";
import {
  commandConsumerSchema,
  consumerEntrySchema,
  type HttpConsumerEntry,
  httpConsumerSchema,
} from "../../src/consumer-probes/schema.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const KEY_A = `SK${"a1".repeat(15)}a1b2`;
const KEY_B = `SK${"b2".repeat(15)}c3d4`;
const EXPECT_A: Expected = { kind: "api-key", id: KEY_A };
const mask = (sid: string) => `${sid.slice(0, 2)}…${sid.slice(-4)}`;
const QUERY_SECRET = "query-secret-0123456789";

const workDir = mkdtempSync(join(tmpdir(), "rotator-probes-"));
const env: Record<string, string | undefined> = { PATH: process.env.PATH };

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Real servers

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  at: number;
}

interface TestServer {
  origin: string;
  requests: Recorded[];
  close(): Promise<void>;
}

const openServers: Server[] = [];

afterAll(async () => {
  await Promise.all(openServers.map(closeServer));
});

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function serve(handler: RequestListener, tls?: { key: string; cert: string }): Promise<TestServer> {
  const requests: Recorded[] = [];
  const listener: RequestListener = (req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, at: Date.now() });
    handler(req, res);
  };
  const server = tls === undefined ? createHttpServer(listener) : createHttpsServer(tls, listener);
  openServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    requests,
    close: () => closeServer(server),
  };
}

function json(res: Parameters<RequestListener>[1], body: unknown, status = 200): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** A port nothing listens on: one a server just had and gave back. */
async function closedPort(): Promise<number> {
  const server = await serve(() => {});
  const port = Number(new URL(server.origin).port);
  await server.close();
  return port;
}

function httpEntry(fields: Record<string, unknown>): HttpConsumerEntry {
  return httpConsumerSchema.parse({ name: "billing", type: "http", ...fields });
}

function httpProbe(
  fields: Record<string, unknown>,
  options: { baseDir?: string; env?: Record<string, string | undefined> } = {},
) {
  return createHttpProbe(httpEntry(fields), { baseDir: options.baseDir ?? workDir, env: options.env ?? env });
}

function expectSecretFree(report: { detail: string; reported?: string }, ...secrets: string[]): void {
  for (const secret of [...secrets, QUERY_SECRET]) {
    expect(report.detail).not.toContain(secret);
    expect(report.reported ?? "").not.toContain(secret);
  }
}

// ---------------------------------------------------------------------------------------------------------

describe("http probe: the status contract", () => {
  let server: TestServer;
  const answers: Record<string, (res: Parameters<RequestListener>[1]) => void> = {
    "/converged": (res) => json(res, { keySid: KEY_A, authenticated: true }),
    "/other": (res) => json(res, { keySid: KEY_B, authenticated: true }),
    "/not-authenticated": (res) => json(res, { keySid: KEY_A, authenticated: false }),
    "/html": (res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>It works!</body></html>");
    },
    "/empty-object": (res) => json(res, {}),
    "/no-authenticated": (res) => json(res, { keySid: KEY_A }),
    "/sid-not-string": (res) => json(res, { keySid: 42, authenticated: true }),
    "/authenticated-string": (res) => json(res, { keySid: KEY_A, authenticated: "yes" }),
    "/null": (res) => json(res, null),
    "/array": (res) => json(res, [KEY_A, true]),
    "/503": (res) => json(res, { keySid: KEY_A, authenticated: true }, 503),
    "/404": (res) => json(res, { error: "not found" }, 404),
    "/redirect": (res) => {
      res.writeHead(302, { location: "/converged" });
      res.end();
    },
  };

  beforeAll(async () => {
    server = await serve((req, res) => {
      const answer = answers[new URL(req.url ?? "/", "http://x").pathname];
      if (answer) answer(res);
      else json(res, { error: "no such route" }, 404);
    });
  });

  const url = (path: string) => `${server.origin}${path}?token=${QUERY_SECRET}`;

  it("converged: reports the expected key, masked, and describes itself without the query string", async () => {
    const probe = createProbe(consumerEntrySchema.parse({ name: "billing", type: "http", url: url("/converged") }), {
      baseDir: workDir,
      env,
    });
    expect(probe.type).toBe("http");
    expect(probe.name).toBe("billing");
    expect(probe.describe()).toBe(`GET ${server.origin}/converged`);
    expect(probe.reload).toBeUndefined();
    const report = await probe.check(EXPECT_A);
    expect(report).toEqual({
      state: "converged",
      reported: mask(KEY_A),
      detail: `uses ${mask(KEY_A)} and authenticates`,
      authenticated: true,
    });
    expectSecretFree(report, KEY_A);
    // The probe really asked: one GET, asking for JSON, with the query string the URL carries.
    const last = server.requests.at(-1)!;
    expect(last.method).toBe("GET");
    expect(last.url).toBe(`/converged?token=${QUERY_SECRET}`);
    expect(last.headers.accept).toBe("application/json");
  });

  it("other-credential: another key SID is reported masked, never in full", async () => {
    const report = await httpProbe({ url: url("/other") }).check(EXPECT_A);
    expect(report.state).toBe("other-credential");
    expect(report.reported).toBe(mask(KEY_B));
    expect(report.detail).toBe(`uses ${mask(KEY_B)}`);
    expectSecretFree(report, KEY_A, KEY_B);
  });

  it("not-authenticated: the expected key, but the app's last Twilio call got 20003", async () => {
    const report = await httpProbe({ url: url("/not-authenticated") }).check(EXPECT_A);
    expect(report.state).toBe("not-authenticated");
    expect(report.reported).toBe(mask(KEY_A));
    expect(report.detail).toMatch(/failed to authenticate/);
    expectSecretFree(report, KEY_A);
  });

  it("bad-response: not JSON", async () => {
    const report = await httpProbe({ url: url("/html") }).check(EXPECT_A);
    expect(report).toEqual({ state: "bad-response", detail: `${server.origin}/html did not answer JSON` });
  });

  it.each([["/empty-object"], ["/no-authenticated"], ["/sid-not-string"], ["/authenticated-string"]])(
    "bad-response: JSON without the contract's fields (%s)",
    async (path) => {
      const report = await httpProbe({ url: url(path) }).check(EXPECT_A);
      expect(report.state).toBe("bad-response");
      expect(report.detail).toBe('status lacks "keySid" (string) and "authenticated" (boolean)');
      expect(report.reported).toBeUndefined();
    },
  );

  it.each([["/null"], ["/array"]])("bad-response: JSON that is not an object with the fields (%s)", async (path) => {
    const report = await httpProbe({ url: url(path) }).check(EXPECT_A);
    expect(report.state).toBe("bad-response");
    expectSecretFree(report, KEY_A);
  });

  it("unreachable: connection refused", async () => {
    const port = await closedPort();
    const report = await httpProbe({ url: `http://127.0.0.1:${port}/status?token=${QUERY_SECRET}` }).check(EXPECT_A);
    expect(report.state).toBe("unreachable");
    expect(report.detail).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/status: .*ECONNREFUSED`));
    expectSecretFree(report);
  });

  it.each([
    ["/503", 503],
    ["/404", 404],
    ["/redirect", 302],
  ])("unreachable: a non-200 answer is not followed or trusted (%s)", async (path, status) => {
    const report = await httpProbe({ url: url(path) }).check(EXPECT_A);
    expect(report).toEqual({ state: "unreachable", detail: `${server.origin}${path} answered HTTP ${status}` });
  });
});

describe("http probe: per-request timeout", () => {
  it("a server that accepts and never answers is unreachable within about timeoutSeconds", async () => {
    const silent = await serve(() => {});
    const probe = httpProbe({ url: `${silent.origin}/status`, timeoutSeconds: 0.3 });
    const started = Date.now();
    const report = await probe.check(EXPECT_A);
    const elapsed = Date.now() - started;
    expect(report).toEqual({ state: "unreachable", detail: `${silent.origin}/status: no answer within 300 ms` });
    expect(silent.requests).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
  });

  it("a server that sends headers and then stalls the body is unreachable too", async () => {
    const stalling = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"keySid":');
    });
    const started = Date.now();
    const report = await httpProbe({ url: `${stalling.origin}/status`, timeoutSeconds: 0.3 }).check(EXPECT_A);
    expect(report.state).toBe("unreachable");
    expect(report.detail).toMatch(new RegExp(`^${stalling.origin}/status: `));
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("the default timeout from config is 5 s", () => {
    expect(httpEntry({ url: "http://127.0.0.1:1/" }).timeoutSeconds).toBe(5);
  });
});

describe("http probe: headers", () => {
  const TOKEN = "Bearer probe-token-4f1c2a9e8d7b6a5f";

  it("sends a static header and one read from an environment variable", async () => {
    const server = await serve((_req, res) => json(res, { keySid: KEY_A, authenticated: true }));
    const probe = httpProbe(
      { url: `${server.origin}/status`, headers: { "X-Probe": "rotator", Authorization: { env: "PROBE_TOKEN" } } },
      { env: { ...env, PROBE_TOKEN: TOKEN } },
    );
    const report = await probe.check(EXPECT_A);
    expect(report.state).toBe("converged");
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.headers["x-probe"]).toBe("rotator");
    expect(server.requests[0]!.headers.authorization).toBe(TOKEN);
  });

  it("never puts a header's value in the detail, also when the server refuses it", async () => {
    const server = await serve((req, res) =>
      req.headers.authorization === TOKEN ? json(res, {}) : json(res, { error: "unauthorized" }, 401),
    );
    const probe = httpProbe(
      { url: `${server.origin}/status`, headers: { Authorization: { env: "PROBE_TOKEN" } } },
      { env: { ...env, PROBE_TOKEN: "Bearer wrong-token-0000000000" } },
    );
    const report = await probe.check(EXPECT_A);
    expect(report).toEqual({ state: "unreachable", detail: `${server.origin}/status answered HTTP 401` });
    expectSecretFree(report, "wrong-token-0000000000");
  });

  it.each([
    ["unset", {}],
    ["empty", { PROBE_TOKEN: "" }],
  ])("a header whose environment variable is %s is a clear error naming the consumer and the variable", (_, extra) => {
    const build = () =>
      httpProbe(
        { url: "http://127.0.0.1:1/status", headers: { Authorization: { env: "PROBE_TOKEN" } } },
        { env: { ...env, ...extra } },
      );
    expect(build).toThrow(
      'consumer "billing": header Authorization reads environment variable PROBE_TOKEN, which is not set',
    );
  });

  it("the same for a reload hook's header", () => {
    const build = () =>
      httpProbe({
        url: "http://127.0.0.1:1/status",
        reload: { url: "http://127.0.0.1:1/reload", headers: { "X-Reload-Token": { env: "RELOAD_TOKEN" } } },
      });
    expect(build).toThrow(/consumer "billing".*X-Reload-Token.*RELOAD_TOKEN/);
  });
});

describe("http probe: TLS with a private CA", () => {
  const tlsDir = join(workDir, "tls");
  let trusted: TestServer;
  let wrongName: TestServer;

  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tlsDir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  function serverCert(name: string, altName: string): { key: string; cert: string } {
    writeFileSync(join(tlsDir, `${name}.ext`), `subjectAltName=${altName}\nbasicConstraints=CA:FALSE\n`);
    openssl("req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.pem`,
      "-extfile",
      `${name}.ext`,
    );
    return {
      key: readFileSync(join(tlsDir, `${name}.key`), "utf8"),
      cert: readFileSync(join(tlsDir, `${name}.pem`), "utf8"),
    };
  }

  beforeAll(async () => {
    // No skipping: a machine without openssl fails this block loudly.
    expect(execFileSync("sh", ["-c", "command -v openssl"], { encoding: "utf8" }).trim()).not.toBe("");
    mkdirSync(tlsDir, { recursive: true });
    openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=rotator test CA");
    const answer: RequestListener = (_req, res) => json(res, { keySid: KEY_A, authenticated: true });
    trusted = await serve(answer, serverCert("consumer", "IP:127.0.0.1"));
    wrongName = await serve(answer, serverCert("elsewhere", "DNS:elsewhere.example"));
  });

  it("caFile (relative to baseDir) makes an https consumer with a private CA work", async () => {
    const report = await httpProbe(
      { url: `${trusted.origin}/.well-known/twilio-credential`, caFile: "tls/ca.pem" },
      { baseDir: workDir },
    ).check(EXPECT_A);
    expect(report.state).toBe("converged");
    expect(trusted.requests.length).toBeGreaterThan(0);
  });

  it("without caFile the certificate is not trusted: unreachable with a certificate error", async () => {
    const before = trusted.requests.length;
    const report = await httpProbe({ url: `${trusted.origin}/.well-known/twilio-credential` }).check(EXPECT_A);
    expect(report.state).toBe("unreachable");
    expect(report.detail).toMatch(/certificate/i);
    // The handshake failed, so no request ever reached the app.
    expect(trusted.requests.length).toBe(before);
  });

  it("with caFile, a certificate for another name is still refused (hostname checks stay on)", async () => {
    const report = await httpProbe({ url: `${wrongName.origin}/status`, caFile: join(tlsDir, "ca.pem") }).check(
      EXPECT_A,
    );
    expect(report.state).toBe("unreachable");
    expect(report.detail).toMatch(/altnames|does not match/i);
    expect(wrongName.requests).toHaveLength(0);
  });

  it("the reload hook uses the CA too", async () => {
    const probe = httpProbe({
      url: `${trusted.origin}/status`,
      caFile: join(tlsDir, "ca.pem"),
      reload: { url: `${trusted.origin}/-/reload` },
    });
    await expect(probe.reload!()).resolves.toBeUndefined();
    expect(trusted.requests.at(-1)).toMatchObject({ method: "POST", url: "/-/reload" });
    const untrusted = httpProbe({ url: `${trusted.origin}/status`, reload: { url: `${trusted.origin}/-/reload` } });
    await expect(untrusted.reload!()).rejects.toThrow(/certificate/i);
  });
});

describe("http probe: auth tokens", () => {
  const token = "0123456789abcdef0123456789abcdef";
  const other = "fedcba9876543210fedcba9876543210";
  const expected: Expected = { kind: "auth-token", id: tokenFingerprint(token) };

  it("compares tokenFingerprint", async () => {
    let answer: unknown = { tokenFingerprint: tokenFingerprint(token), authenticated: true };
    const server = await serve((_req, res) => json(res, answer));
    const probe = httpProbe({ url: `${server.origin}/status` });

    expect(expected.id).toMatch(/^[0-9a-f]{16}$/);
    const converged = await probe.check(expected);
    expect(converged.state).toBe("converged");
    expect(converged.reported).toBe(`${expected.id.slice(0, 2)}…${expected.id.slice(-4)}`);

    answer = { tokenFingerprint: tokenFingerprint(other), authenticated: true };
    expect((await probe.check(expected)).state).toBe("other-credential");

    answer = { tokenFingerprint: tokenFingerprint(token), authenticated: false };
    expect((await probe.check(expected)).state).toBe("not-authenticated");

    // An API-key answer is not an auth-token answer.
    answer = { keySid: KEY_A, authenticated: true };
    expect(await probe.check(expected)).toEqual({
      state: "bad-response",
      detail: 'status lacks "tokenFingerprint" (string) and "authenticated" (boolean)',
    });
    for (const report of [converged]) expectSecretFree(report, token, other, expected.id);
  });
});

describe("http probe: reload hook", () => {
  const RELOAD_TOKEN = "reload-token-9d8c7b6a5f4e3d2c";

  it("POSTs the hook with its own headers and an empty body; 2xx is ok", async () => {
    let status = 204;
    const server = await serve((req, res) => {
      if (req.method === "POST") {
        res.writeHead(status);
        res.end();
      } else json(res, { keySid: KEY_A, authenticated: true });
    });
    const probe = httpProbe(
      {
        url: `${server.origin}/status`,
        headers: { "X-Status": "yes" },
        reload: { url: `${server.origin}/-/reload?token=${QUERY_SECRET}`, headers: { "X-Reload": { env: "RT" } } },
      },
      { env: { ...env, RT: RELOAD_TOKEN } },
    );
    await probe.reload!();
    expect(server.requests).toHaveLength(1);
    const post = server.requests[0]!;
    expect(post.method).toBe("POST");
    expect(post.url).toBe(`/-/reload?token=${QUERY_SECRET}`);
    expect(post.headers["x-reload"]).toBe(RELOAD_TOKEN);
    expect(post.headers["x-status"]).toBeUndefined();
    expect(post.headers["content-length"]).toBe("0");

    status = 200;
    await expect(probe.reload!()).resolves.toBeUndefined();
    status = 202;
    await expect(probe.reload!()).resolves.toBeUndefined();
    expect(server.requests.filter((r) => r.method === "POST")).toHaveLength(3);
  });

  it.each([[500], [404], [301]])("a %s answer throws, naming the URL without its query string", async (status) => {
    const server = await serve((_req, res) => {
      res.writeHead(status);
      res.end("nope");
    });
    const probe = httpProbe({
      url: `${server.origin}/status`,
      reload: { url: `${server.origin}/-/reload?token=${QUERY_SECRET}` },
    });
    const error = await probe.reload!().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toBe(`reload hook ${server.origin}/-/reload answered HTTP ${status}`);
    expect(error!.message).not.toContain(QUERY_SECRET);
  });

  it("a hook nobody listens on throws", async () => {
    const port = await closedPort();
    const probe = httpProbe({ url: "http://127.0.0.1:1/status", reload: { url: `http://127.0.0.1:${port}/r` } });
    await expect(probe.reload!()).rejects.toThrow(/ECONNREFUSED/);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("command probe", () => {
  function commandProbe(
    fields: Record<string, unknown>,
    options: { baseDir?: string; env?: Record<string, string | undefined> } = {},
  ) {
    const entry = commandConsumerSchema.parse({ name: "worker", type: "command", ...fields });
    return createCommandProbe(entry, { baseDir: options.baseDir ?? workDir, env: options.env ?? env });
  }

  /** Exits 0 only when the child sees exactly the expected key and not the auth-token variable. */
  const checksKey = [
    "sh",
    "-c",
    'test "$ROTATOR_EXPECTED_KEY_SID" = "$1" && ! env | grep -q ^ROTATOR_EXPECTED_TOKEN_FINGERPRINT= && test "$EXTRA" = kept',
    "check",
    KEY_A,
  ];

  it("exit 0 is converged, and the child's environment has ROTATOR_EXPECTED_KEY_SID set to the expected id", async () => {
    const probe = createProbe(
      consumerEntrySchema.parse({ name: "worker", type: "command", command: checksKey, passEnv: ["EXTRA"] }),
      { baseDir: workDir, env: { ...env, EXTRA: "kept" } },
    );
    expect(probe.type).toBe("command");
    expect(probe.describe()).toBe("command sh");
    expect(probe.reload).toBeUndefined();
    expect(await probe.check(EXPECT_A)).toEqual({ state: "converged", detail: "check passed (exit 0)" });
    // The same script, asked about another key, fails: the variable really is what it checks.
    expect(await probe.check({ kind: "api-key", id: KEY_B })).toEqual({
      state: "other-credential",
      detail: "check failed (exit 1)",
    });
  });

  it("a non-zero exit is other-credential, with the exit code", async () => {
    expect(await commandProbe({ command: ["sh", "-c", "exit 3"] }).check(EXPECT_A)).toEqual({
      state: "other-credential",
      detail: "check failed (exit 3)",
    });
  });

  it("a check killed by a signal is other-credential, naming the signal", async () => {
    const report = await commandProbe({ command: ["sh", "-c", "kill -KILL $$"] }).check(EXPECT_A);
    expect(report).toEqual({ state: "other-credential", detail: "check failed (signal SIGKILL)" });
  });

  it("a missing executable is unreachable", async () => {
    const missing = join(workDir, "no-such-check");
    expect(await commandProbe({ command: [missing] }).check(EXPECT_A)).toEqual({
      state: "unreachable",
      detail: `cannot run ${missing} (ENOENT)`,
    });
    expect(await commandProbe({ command: ["rotator-no-such-command-on-path"] }).check(EXPECT_A)).toEqual({
      state: "unreachable",
      detail: "cannot run rotator-no-such-command-on-path (ENOENT)",
    });
  });

  it("a file that is not executable is unreachable", async () => {
    const file = join(workDir, "not-executable.sh");
    writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(await commandProbe({ command: [file] }).check(EXPECT_A)).toEqual({
      state: "unreachable",
      detail: `cannot run ${file} (EACCES)`,
    });
  });

  it("a check that outlives timeoutSeconds is unreachable, within about the timeout", async () => {
    const probe = commandProbe({
      command: [process.execPath, "-e", "setTimeout(() => {}, 20000)"],
      timeoutSeconds: 0.3,
    });
    const started = Date.now();
    const report = await probe.check(EXPECT_A);
    expect(report).toEqual({ state: "unreachable", detail: "check did not finish within 0.3 s" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a check that ignores SIGTERM and exits 0 after its timeout is still unreachable, and gets killed", async () => {
    const pidFile = join(workDir, "stubborn.pid");
    const script = `process.on("SIGTERM", () => {}); require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => process.exit(0), 20000);`;
    const probe = commandProbe({ command: [process.execPath, "-e", script], timeoutSeconds: 1.5 });
    const started = Date.now();
    const report = await probe.check(EXPECT_A);
    expect(report).toEqual({ state: "unreachable", detail: "check did not finish within 1.5 s" });
    expect(Date.now() - started).toBeLessThan(5000);
    // SIGTERM was ignored; SIGKILL follows after a short grace, so no check outlives the probe for long.
    const pid = Number(readFileSync(pidFile, "utf8"));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive()).toBe(false);
  });

  it("a passing check may print as much as it likes", async () => {
    const report = await commandProbe({
      command: [process.execPath, "-e", 'process.stdout.write("x".repeat(3_000_000)); console.error("y".repeat(100))'],
    }).check(EXPECT_A);
    expect(report).toEqual({ state: "converged", detail: "check passed (exit 0)" });
  });

  it("cwd is relative to baseDir (and defaults to baseDir)", async () => {
    const checks = join(workDir, "checks");
    mkdirSync(checks, { recursive: true });
    writeFileSync(join(checks, "marker"), "");
    writeFileSync(join(checks, "check.sh"), '#!/bin/sh\ntest -f marker && test "$(pwd -P)" = "$WANT_DIR"\n', {
      mode: 0o755,
    });
    const wantDir = realpathSync(checks);
    expect(
      await commandProbe(
        { command: ["./check.sh"], cwd: "checks", passEnv: ["WANT_DIR"] },
        { env: { ...env, WANT_DIR: wantDir } },
      ).check(EXPECT_A),
    ).toEqual({ state: "converged", detail: "check passed (exit 0)" });
    // Run from baseDir itself, the same script finds no marker.
    expect(
      (
        await commandProbe(
          { command: ["./checks/check.sh"], passEnv: ["WANT_DIR"] },
          { env: { ...env, WANT_DIR: wantDir } },
        ).check(EXPECT_A)
      ).state,
    ).toBe("other-credential");
  });

  it("for auth tokens it sets ROTATOR_EXPECTED_TOKEN_FINGERPRINT instead", async () => {
    const fingerprint = tokenFingerprint("0123456789abcdef0123456789abcdef");
    const probe = commandProbe({
      command: [
        "sh",
        "-c",
        'test "$ROTATOR_EXPECTED_TOKEN_FINGERPRINT" = "$1" && ! env | grep -q ^ROTATOR_EXPECTED_KEY_SID=',
        "check",
        fingerprint,
      ],
    });
    expect(await probe.check({ kind: "auth-token", id: fingerprint })).toEqual({
      state: "converged",
      detail: "check passed (exit 0)",
    });
    expect((await probe.check({ kind: "auth-token", id: "0000000000000000" })).state).toBe("other-credential");
  });

  it("the default timeout from config is 30 s", () => {
    expect(commandConsumerSchema.parse({ name: "w", type: "command", command: ["true"] }).timeoutSeconds).toBe(30);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("awaitConsumers", () => {
  /** Events across all servers of one fleet, in the order they happened. */
  interface Fleet {
    log: string[];
    inFlight: number;
    maxInFlight: number;
  }

  /**
   * A consumer app: answers the status GET after `delayMs`, with the old key for its first `oldPolls` GETs
   * (forever when Infinity), then the expected one; its reload hook answers `reloadStatus`.
   */
  async function app(
    fleet: Fleet,
    name: string,
    options: { oldPolls: number; delayMs?: number; reloadStatus?: number },
  ): Promise<{ probe: ConsumerProbe; gets: () => number }> {
    let gets = 0;
    const server = await serve((req, res) => {
      fleet.log.push(`${name} ${req.method}`);
      if (req.method === "POST") {
        res.writeHead(options.reloadStatus ?? 204);
        res.end();
        return;
      }
      gets += 1;
      const answer = gets > options.oldPolls ? KEY_A : KEY_B;
      fleet.inFlight += 1;
      fleet.maxInFlight = Math.max(fleet.maxInFlight, fleet.inFlight);
      setTimeout(() => {
        fleet.inFlight -= 1;
        json(res, { keySid: answer, authenticated: true });
      }, options.delayMs ?? 0);
    });
    const probe = httpProbe({
      name,
      url: `${server.origin}/.well-known/twilio-credential`,
      reload: { url: `${server.origin}/-/reload-credentials` },
    });
    return { probe, gets: () => gets };
  }

  const changes = (seen: ConsumerResult[], name: string) =>
    seen.filter((r) => r.name === name).map((r) => r.report.state);

  it("reloads first, polls in parallel until all converge, reports each change once, never re-polls a converged one", async () => {
    const fleet: Fleet = { log: [], inFlight: 0, maxInFlight: 0 };
    const fast = await app(fleet, "fast", { oldPolls: 0, delayMs: 150 });
    const slow = await app(fleet, "slow", { oldPolls: 3, delayMs: 150 });
    const cmd = commandProbe("cmd");
    const seen: ConsumerResult[] = [];

    const started = Date.now();
    const outcome = await awaitConsumers([fast.probe, slow.probe, cmd], EXPECT_A, {
      timeoutMs: 20_000,
      pollMs: 50,
      onChange: (result) => seen.push(structuredClone(result)),
    });
    const elapsed = Date.now() - started;

    expect(outcome.converged).toBe(true);
    expect(outcome.results.map((r) => [r.name, r.type, r.report.state, r.reloaded])).toEqual([
      ["fast", "http", "converged", "ok"],
      ["slow", "http", "converged", "ok"],
      ["cmd", "command", "converged", "no-hook"],
    ]);
    for (const r of outcome.results) {
      expect(r.convergedAt).not.toBeNull();
      expect(Number.isNaN(Date.parse(r.convergedAt!))).toBe(false);
    }
    // The fast one converged on the first poll and was never asked again; the slow one took four.
    expect(fast.gets()).toBe(1);
    expect(slow.gets()).toBe(4);
    // Both reload hooks were POSTed before any status GET.
    const firstGet = fleet.log.findIndex((e) => e.endsWith("GET"));
    expect(fleet.log.slice(0, firstGet).sort()).toEqual(["fast POST", "slow POST"]);
    expect(fleet.log.slice(firstGet).every((e) => e.endsWith("GET"))).toBe(true);
    // In parallel: both apps had a status request open at the same time.
    expect(fleet.maxInFlight).toBe(2);
    // Four rounds of 150 ms with 50 ms pauses, not a fixed sleep per consumer.
    expect(elapsed).toBeGreaterThanOrEqual(4 * 150);
    expect(elapsed).toBeLessThan(5000);
    // One onChange per state change: three polls of the old key are one change, not three.
    expect(changes(seen, "fast")).toEqual(["converged"]);
    expect(changes(seen, "slow")).toEqual(["other-credential", "converged"]);
    expect(changes(seen, "cmd")).toEqual(["converged"]);
    expect(seen.find((r) => r.name === "slow" && r.report.state === "other-credential")!.report.reported).toBe(
      mask(KEY_B),
    );
  });

  it("gives up at the deadline with converged: false, naming the laggard; a failed reload is recorded", async () => {
    const fleet: Fleet = { log: [], inFlight: 0, maxInFlight: 0 };
    const ready = await app(fleet, "ready", { oldPolls: 0 });
    const laggard = await app(fleet, "laggard", { oldPolls: Number.POSITIVE_INFINITY, reloadStatus: 500 });
    const seen: ConsumerResult[] = [];

    const started = Date.now();
    const outcome = await awaitConsumers([ready.probe, laggard.probe], EXPECT_A, {
      timeoutMs: 700,
      pollMs: 100,
      onChange: (result) => seen.push(structuredClone(result)),
    });
    const elapsed = Date.now() - started;

    expect(outcome.converged).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(3000);
    const [readyResult, laggardResult] = outcome.results;
    expect(readyResult).toMatchObject({ name: "ready", reloaded: "ok", report: { state: "converged" } });
    expect(readyResult!.convergedAt).not.toBeNull();
    expect(laggardResult).toMatchObject({
      name: "laggard",
      convergedAt: null,
      reloaded: "failed",
      report: { state: "other-credential", reported: mask(KEY_B) },
    });
    expect(laggardResult!.reloadError).toMatch(
      /^reload hook http:\/\/127\.0\.0\.1:\d+\/-\/reload-credentials answered HTTP 500$/,
    );
    expect(ready.gets()).toBe(1);
    expect(laggard.gets()).toBeGreaterThanOrEqual(4);
    expect(changes(seen, "laggard")).toEqual(["other-credential"]);
  });

  function commandProbe(name: string): ConsumerProbe {
    return createCommandProbe(
      commandConsumerSchema.parse({
        name,
        type: "command",
        command: ["sh", "-c", 'test "$ROTATOR_EXPECTED_KEY_SID" = "$1"', "check", KEY_A],
      }),
      { baseDir: workDir, env },
    );
  }
});

describe("command probe environment", () => {
  it("passes only the basics and passEnv to the check, never rotator's own secrets", async () => {
    const entry = commandConsumerSchema.parse({
      name: "env-check",
      type: "command",
      command: [
        "sh",
        "-c",
        'test -n "$PATH" && test "$APP_REGION" = "eu1" && test -z "$TWILIO_AUTH_TOKEN" && test -z "$VAULT_TOKEN"',
      ],
      passEnv: ["APP_REGION"],
    });
    const probe = createCommandProbe(entry, {
      baseDir: process.cwd(),
      env: { PATH: process.env.PATH, APP_REGION: "eu1", TWILIO_AUTH_TOKEN: "f".repeat(32), VAULT_TOKEN: "s.token" },
    });
    expect((await probe.check({ kind: "api-key", id: `SK${"1".repeat(32)}` })).state).toBe("converged");
  });
});
