/**
 * The consumer library (`rotator/consumer`) against the in-process Twilio emulator, with a real dotenv file
 * (mode 0600) as its store: TTL caching and shared reads, the re-read-and-retry-once on 20003, the status
 * and reload handlers served by a real node:http server (and read by the real http probe), the startup
 * check, and a scan of everything it said for secrets.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import {
  type StoreReadFailure,
  TwilioCredentialError,
  TwilioCredentials,
  verifyTwilioCredentials,
} from "../../src/consumer/index.js";
import { createHttpProbe } from "../../src/consumer-probes/http-probe.js";
import { httpConsumerSchema } from "../../src/consumer-probes/schema.js";
import { isTwilioApiError, type TwilioApiError, type TwilioClient } from "../../src/twilio/client.js";
import { adminClient, envText, startTwilioEmulator } from "../e2e/harness.js";

// Count the store's file reads: the library must share one read between concurrent callers. Everything else
// about node:fs/promises stays real.
const fsReads = vi.hoisted(() => ({ paths: [] as string[] }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const readFile = ((...args: Parameters<typeof actual.readFile>) => {
    fsReads.paths.push(String(args[0]));
    return actual.readFile(...args);
  }) as typeof actual.readFile;
  return { ...actual, default: { ...actual, readFile }, readFile };
});

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

type Emulator = Awaited<ReturnType<typeof startTwilioEmulator>>;

let emulator: Emulator;
let dir: string;
/** Every secret the emulator issued, plus the bogus ones this file made up. */
const secrets = new Set<string>();
/** Everything the library said: error messages, inspected errors, handler bodies, probe details. */
const said: string[] = [];
const credentialsMade: TwilioCredentials[] = [];
let fileCounter = 0;

beforeAll(async () => {
  emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => secrets.add(secret) });
  dir = await mkdtemp(join(tmpdir(), "rotator-consumer-lib-"));
});

afterEach(() => {
  emulator.faults.clear();
  vi.useRealTimers();
});

afterAll(async () => {
  await Promise.all(credentialsMade.map((c) => c.close()));
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Key {
  sid: string;
  secret: string;
}

async function newKey(name = "consumer-lib"): Promise<Key> {
  const key = await adminClient(emulator)
    .api.v2010.accounts(emulator.accountSid)
    .newKeys.create({ friendlyName: name });
  return { sid: key.sid, secret: key.secret };
}

async function deleteKey(key: Key): Promise<void> {
  await adminClient(emulator).api.v2010.accounts(emulator.accountSid).keys(key.sid).remove();
  expect(emulator.keys().some((k) => k.sid === key.sid)).toBe(false);
}

const masked = (sid: string) => `SK…${sid.slice(-4)}`;

/** `status().store` while every read of the store has succeeded. */
const answering = { readFailures: 0, consecutiveFailures: 0, lastReadAt: expect.any(String) };

/** A dotenv store file, mode 0600, holding `key`. */
async function storeFile(key: Key): Promise<string> {
  const file = join(dir, `app-${++fileCounter}.env`);
  await writeStore(file, key);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  return file;
}

async function writeStore(file: string, key: Key): Promise<void> {
  await writeFile(file, envText(emulator.accountSid, key.sid, key.secret, "consumer-lib"), { mode: 0o600 });
  await chmod(file, 0o600);
}

function credentialsFor(file: string, options: { ttlSeconds?: number; kind?: "api-key" | "auth-token" } = {}) {
  const credentials = new TwilioCredentials({
    store: { name: "app", type: "dotenv-file", path: file },
    ttlSeconds: options.ttlSeconds ?? 3600,
    twilioBaseUrl: emulator.baseUrl,
    ...(options.kind === undefined ? {} : { kind: options.kind }),
  });
  credentialsMade.push(credentials);
  return credentials;
}

const readsOf = (file: string) => fsReads.paths.filter((path) => path === file).length;

function sidOf(credential: Awaited<ReturnType<TwilioCredentials["current"]>>): string | undefined {
  return credential.kind === "api-key" ? credential.apiKeySid : undefined;
}

/** A Twilio call that records which key each attempt used and how each attempt ended. */
function recordingCall() {
  const attempts: { username: string | undefined; status: number | "ok" }[] = [];
  const call = async (client: TwilioClient) => {
    try {
      const page = await client.api.v2010.accounts(emulator.accountSid).messages.list({ limit: 1 });
      attempts.push({ username: client.username, status: "ok" });
      return page;
    } catch (error) {
      attempts.push({ username: client.username, status: isTwilioApiError(error) ? error.status : -1 });
      throw error;
    }
  };
  return { attempts, call };
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(Error);
  said.push(error!.message, inspect(error, { depth: 6 }));
  return error!;
}

// ---------------------------------------------------------------------------------------------------------

describe("current() and refresh()", () => {
  it("caches for the TTL: a changed file is seen only once the TTL has passed, by a re-read beside the calls (fake clock)", async () => {
    const [a, b, c] = [await newKey(), await newKey(), await newKey()];
    const file = await storeFile(a);
    const credentials = credentialsFor(file, { ttlSeconds: 60 });
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = new Date("2030-01-01T00:00:00Z").getTime();
    vi.setSystemTime(start);

    expect(sidOf(await credentials.current())).toBe(a.sid);
    const readsAfterFirst = readsOf(file);
    expect(readsAfterFirst).toBe(1);
    await writeStore(file, b);

    expect(sidOf(await credentials.current())).toBe(a.sid);
    vi.setSystemTime(start + 59_999);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    expect(await credentials.currentId()).toBe(a.sid);
    expect(readsOf(file)).toBe(readsAfterFirst);

    // Once the TTL has passed, the next call still gets the credential at once, and a re-read starts beside it.
    vi.setSystemTime(start + 60_000);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    // refresh() joins that read (one read of the file, not two) and answers what it found.
    expect(sidOf(await credentials.refresh())).toBe(b.sid);
    expect(readsOf(file)).toBe(readsAfterFirst + 1);
    expect(sidOf(await credentials.current())).toBe(b.sid);
    expect(readsOf(file)).toBe(readsAfterFirst + 1);

    // refresh() re-reads at once, whatever the TTL.
    await writeStore(file, c);
    expect(sidOf(await credentials.current())).toBe(b.sid);
    expect(sidOf(await credentials.refresh())).toBe(c.sid);
    expect(sidOf(await credentials.current())).toBe(c.sid);
    expect(credentials.status()).toEqual({ keySid: c.sid, authenticated: true, store: answering });
  });

  it("caches for the TTL on the real clock too", async () => {
    const [a, b] = [await newKey(), await newKey()];
    const file = await storeFile(a);
    const credentials = credentialsFor(file, { ttlSeconds: 1 });
    expect(sidOf(await credentials.current())).toBe(a.sid);
    await writeStore(file, b);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(sidOf(await credentials.current())).toBe(a.sid);
    expect(sidOf(await credentials.refresh())).toBe(b.sid);
    expect(sidOf(await credentials.current())).toBe(b.sid);
  });

  it("a re-read that fails is counted and reported, the cached key goes on, and the store is asked again after a pause", async () => {
    const [a, b] = [await newKey(), await newKey()];
    const file = await storeFile(a);
    const events: StoreReadFailure[] = [];
    const credentials = new TwilioCredentials({
      store: { name: "app", type: "dotenv-file", path: file },
      ttlSeconds: 60,
      twilioBaseUrl: emulator.baseUrl,
      onStoreReadFailure: (event) => {
        events.push(event);
        throw new Error("a broken monitoring hook");
      },
    });
    credentialsMade.push(credentials);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = new Date("2031-01-01T00:00:00Z").getTime();
    vi.setSystemTime(start);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    await rm(file);

    vi.setSystemTime(start + 60_000);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    const failure = await failureOf(credentials.refresh());
    expect(failure.message).toContain(file);
    expect(events).toEqual([
      {
        store: "app",
        message: failure.message,
        timedOut: false,
        consecutiveFailures: 1,
        servingCached: true,
        at: expect.any(Date),
      },
    ]);
    expect(credentials.storeReadFailures).toBe(1);
    expect(credentials.status()).toEqual({
      keySid: a.sid,
      authenticated: true,
      store: {
        readFailures: 1,
        consecutiveFailures: 1,
        lastReadAt: new Date(start).toISOString(),
        lastError: failure.message,
      },
    });

    // Calls go on with the cached key, and do not ask the store again for a second (then 2 s, 4 s ... up to 30 s).
    const reads = readsOf(file);
    vi.setSystemTime(start + 60_999);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    expect(readsOf(file)).toBe(reads);
    await writeStore(file, b);
    vi.setSystemTime(start + 61_000);
    expect(sidOf(await credentials.current())).toBe(a.sid);
    expect(sidOf(await credentials.refresh())).toBe(b.sid);
    expect(readsOf(file)).toBe(reads + 1);
    expect(credentials.status()).toEqual({
      keySid: b.sid,
      authenticated: true,
      store: { readFailures: 1, consecutiveFailures: 0, lastReadAt: new Date(start + 61_000).toISOString() },
    });
  });

  it("durations must be positive numbers of seconds: anything else is a clear error at construction", () => {
    for (const [option, value] of [
      ["ttlSeconds", 0],
      ["ttlSeconds", -5],
      ["storeTimeoutSeconds", Number.NaN],
      ["storeTimeoutSeconds", "5"],
    ] as const) {
      expect(
        () =>
          new TwilioCredentials({
            store: { name: "app", type: "dotenv-file", path: "/nonexistent/app.env" },
            [option]: value as number,
          }),
      ).toThrow(new TwilioCredentialError(`${option} must be a positive number of seconds (given: ${String(value)})`));
    }
  });

  it("concurrent refresh() calls (and current() on an empty cache) share one read", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);

    const first = credentials.refresh();
    const second = credentials.refresh();
    const third = credentials.current();
    expect(second).toBe(first);
    const results = await Promise.all([first, second, third]);
    expect(results.map(sidOf)).toEqual([a.sid, a.sid, a.sid]);
    expect(readsOf(file)).toBe(1);

    // Once it settled, the next refresh reads again.
    const later = credentials.refresh();
    expect(later).not.toBe(first);
    await later;
    expect(readsOf(file)).toBe(2);
  });

  it("a failed shared read rejects every waiting caller, and the next refresh reads again", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await rm(file);
    const [one, two] = await Promise.all([failureOf(credentials.refresh()), failureOf(credentials.refresh())]);
    expect(two).toBe(one);
    expect(one.message).toContain(file);
    await writeStore(file, a);
    expect(sidOf(await credentials.refresh())).toBe(a.sid);
  });

  it("a store with no credential is a clear TwilioCredentialError", async () => {
    const file = join(dir, "empty.env");
    await writeFile(file, "# nothing here yet\nAPP=x\n", { mode: 0o600 });
    const error = await failureOf(credentialsFor(file).current());
    expect(error).toBeInstanceOf(TwilioCredentialError);
    expect(error.message).toBe(`store "app" (dotenv file ${file}) holds no Twilio credential`);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("withClient", () => {
  it("on 401 re-reads the store, retries once with the new key, succeeds, and status reports the new key", async () => {
    const [a, b] = [await newKey("old"), await newKey("new")];
    const file = await storeFile(a);
    const credentials = credentialsFor(file);

    const warmup = recordingCall();
    await credentials.withClient(warmup.call);
    expect(warmup.attempts).toEqual([{ username: a.sid, status: "ok" }]);
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: true, store: answering });

    // A rotation: the store gets the new key, then the old one is revoked. The app still caches the old one.
    await writeStore(file, b);
    await deleteKey(a);
    const readsBefore = readsOf(file);

    const { attempts, call } = recordingCall();
    const page = await credentials.withClient(call);
    expect(Array.isArray(page)).toBe(true);
    expect(attempts).toEqual([
      { username: a.sid, status: 401 },
      { username: b.sid, status: "ok" },
    ]);
    expect(readsOf(file)).toBe(readsBefore + 1);
    expect(credentials.status()).toEqual({ keySid: b.sid, authenticated: true, store: answering });
    expect(sidOf(await credentials.current())).toBe(b.sid);
  });

  it("when the store still holds the deleted key: throws the 401 (20003), no retry, status authenticated: false", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await credentials.withClient(recordingCall().call);
    await deleteKey(a);
    const readsBefore = readsOf(file);

    const { attempts, call } = recordingCall();
    const error = await failureOf(credentials.withClient(call));
    expect(isTwilioApiError(error)).toBe(true);
    expect((error as TwilioApiError).status).toBe(401);
    expect((error as TwilioApiError).code).toBe(20003);
    expect(attempts).toEqual([{ username: a.sid, status: 401 }]);
    // It did look: the store was re-read once before giving up.
    expect(readsOf(file)).toBe(readsBefore + 1);
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: false, store: answering });

    // The store catches up later: the next call recovers by itself, TTL or not.
    const b = await newKey();
    await writeStore(file, b);
    const recovery = recordingCall();
    await credentials.withClient(recovery.call);
    expect(recovery.attempts.map((x) => x.status)).toEqual([401, "ok"]);
    expect(credentials.status()).toEqual({ keySid: b.sid, authenticated: true, store: answering });
  });

  it("retries only once: when the store's new key is refused too, that 401 is thrown and status names it", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await credentials.withClient(recordingCall().call);
    const b = await newKey();
    const truncated = { sid: b.sid, secret: b.secret.slice(0, -1) };
    secrets.add(truncated.secret);
    await writeStore(file, truncated);
    await deleteKey(a);

    const { attempts, call } = recordingCall();
    const error = await failureOf(credentials.withClient(call));
    expect((error as TwilioApiError).status).toBe(401);
    expect(attempts).toEqual([
      { username: a.sid, status: 401 },
      { username: b.sid, status: 401 },
    ]);
    expect(credentials.status()).toEqual({ keySid: b.sid, authenticated: false, store: answering });
  });

  it("a non-401 error (a 500 from Twilio) is not retried and does not touch the store or the status", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await credentials.withClient(recordingCall().call);
    const fault = emulator.faults.add({
      kind: "server-error",
      status: 500,
      method: "GET",
      path: "/2010-04-01/Accounts/*/Messages.json",
      times: 1,
    });
    const readsBefore = readsOf(file);

    const { attempts, call } = recordingCall();
    const error = await failureOf(credentials.withClient(call));
    expect(isTwilioApiError(error)).toBe(true);
    expect((error as TwilioApiError).status).toBe(500);
    expect(attempts).toEqual([{ username: a.sid, status: 500 }]);
    expect(emulator.faults.get(fault.id)?.fired).toBe(1);
    expect(readsOf(file)).toBe(readsBefore);
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: true, store: answering });

    // The fault is spent: the next call goes through.
    const next = recordingCall();
    await credentials.withClient(next.call);
    expect(next.attempts).toEqual([{ username: a.sid, status: "ok" }]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("statusHandler() and reloadHandler() over node:http", () => {
  let server: Server;
  let origin: string;
  let credentials: TwilioCredentials;
  let file: string;
  let a: Key;
  let b: Key;

  beforeAll(async () => {
    [a, b] = [await newKey("handler-a"), await newKey("handler-b")];
    file = await storeFile(a);
    credentials = credentialsFor(file);
    const status = credentials.statusHandler();
    const reload = credentials.reloadHandler();
    server = createServer((req, res) => {
      if (req.url === "/.well-known/twilio-credential" && req.method === "GET") return status(req, res);
      if (req.url === "/-/reload-credentials" && req.method === "POST") return reload(req, res);
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  async function get(): Promise<{ status: number; type: string | null; cache: string | null; text: string }> {
    const res = await fetch(`${origin}/.well-known/twilio-credential`);
    const text = await res.text();
    said.push(text);
    return { status: res.status, type: res.headers.get("content-type"), cache: res.headers.get("cache-control"), text };
  }

  async function post(): Promise<{ status: number; text: string }> {
    const res = await fetch(`${origin}/-/reload-credentials`, { method: "POST" });
    const text = await res.text();
    said.push(text);
    return { status: res.status, text };
  }

  const probe = () =>
    createHttpProbe(
      httpConsumerSchema.parse({
        name: "app",
        type: "http",
        url: `${origin}/.well-known/twilio-credential`,
        reload: { url: `${origin}/-/reload-credentials` },
      }),
      { baseDir: dir, env: {} },
    );

  it("GET answers the contract JSON, exactly, and the real http probe sees it converged", async () => {
    await verifyTwilioCredentials(credentials);
    const answer = await get();
    expect(answer.status).toBe(200);
    expect(answer.type).toBe("application/json");
    expect(answer.cache).toBe("no-store");
    expect(answer.text).toMatch(new RegExp(`^\\{"keySid":"${a.sid}","authenticated":true,"store":\\{`));
    expect(JSON.parse(answer.text)).toEqual({ keySid: a.sid, authenticated: true, store: answering });
    const report = await probe().check({ kind: "api-key", id: a.sid });
    said.push(report.detail);
    expect(report).toEqual({
      state: "converged",
      reported: masked(a.sid),
      detail: `uses ${masked(a.sid)} and authenticates`,
      authenticated: true,
    });
  });

  it("POST reload re-reads the store (204, no body) and GET then reports the new key", async () => {
    await writeStore(file, b);
    expect(JSON.parse((await get()).text)).toMatchObject({ keySid: a.sid, authenticated: true });
    expect((await probe().check({ kind: "api-key", id: b.sid })).state).toBe("other-credential");

    const reloaded = await post();
    expect(reloaded).toEqual({ status: 204, text: "" });
    expect(JSON.parse((await get()).text)).toEqual({ keySid: b.sid, authenticated: true, store: answering });

    // The same through the probe's own reload hook.
    await writeStore(file, a);
    await probe().reload!();
    expect((await probe().check({ kind: "api-key", id: a.sid })).state).toBe("converged");
  });

  it("a failing store read (file removed) answers 503 with a message and no secret; status keeps the last good key", async () => {
    await rm(file);
    const answer = await post();
    expect(answer.status).toBe(503);
    const body = JSON.parse(answer.text) as { error: string };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toContain(file);
    expect(body.error).toMatch(/does not exist/);
    for (const secret of [a.secret, b.secret]) expect(answer.text).not.toContain(secret);

    // The failed read shows in the status answer; the key read last stays in use.
    expect(JSON.parse((await get()).text)).toEqual({
      keySid: a.sid,
      authenticated: true,
      store: { readFailures: 1, consecutiveFailures: 1, lastReadAt: expect.any(String), lastError: body.error },
    });
    const error = await failureOf(probe().reload!());
    expect(error.message).toBe(`reload hook ${origin}/-/reload-credentials answered HTTP 503`);
    await writeStore(file, a);
    expect((await post()).status).toBe(204);
  });

  it("for an auth token, GET answers tokenFingerprint", async () => {
    const tokenFile = join(dir, "token.env");
    await writeFile(tokenFile, `TWILIO_ACCOUNT_SID=${emulator.accountSid}\nTWILIO_AUTH_TOKEN=${emulator.authToken}\n`, {
      mode: 0o600,
    });
    const tokenCredentials = credentialsFor(tokenFile, { kind: "auth-token" });
    await verifyTwilioCredentials(tokenCredentials);
    const tokenServer = createServer(tokenCredentials.statusHandler());
    await new Promise<void>((resolve) => tokenServer.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/status`;
      const text = await (await fetch(url)).text();
      said.push(text);
      const fingerprint = tokenFingerprint(emulator.authToken);
      expect(JSON.parse(text)).toEqual({ tokenFingerprint: fingerprint, authenticated: true, store: answering });
      const report = await createHttpProbe(httpConsumerSchema.parse({ name: "app", type: "http", url }), {
        baseDir: dir,
        env: {},
      }).check({ kind: "auth-token", id: fingerprint });
      expect(report.state).toBe("converged");
    } finally {
      await new Promise<void>((resolve) => {
        tokenServer.close(() => resolve());
        tokenServer.closeAllConnections();
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("verifyTwilioCredentials", () => {
  it("passes for a working key", async () => {
    const a = await newKey();
    const credentials = credentialsFor(await storeFile(a));
    await expect(verifyTwilioCredentials(credentials)).resolves.toBeUndefined();
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: true, store: answering });
  });

  it("for a deleted key throws TwilioCredentialError: 20003, the masked key, likely causes, no secret", async () => {
    const a = await newKey();
    const credentials = credentialsFor(await storeFile(a));
    await deleteKey(a);
    const error = await failureOf(verifyTwilioCredentials(credentials));
    expect(error).toBeInstanceOf(TwilioCredentialError);
    expect(error.name).toBe("TwilioCredentialError");
    expect(error.message).toContain("20003");
    expect(error.message).toContain(`API key ${masked(a.sid)} of account ${emulator.accountSid}`);
    expect(error.message).toMatch(/deleted or rotated/);
    expect(error.message).toMatch(/truncated|whitespace/);
    expect(error.message).not.toContain(a.sid);
    expect(error.message).not.toContain(a.secret);
    expect(isTwilioApiError(error.cause)).toBe(true);
    expect((error.cause as TwilioApiError).status).toBe(401);
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: false, store: answering });
  });

  it("names the key refused last when the store had changed under it", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await credentials.current();
    const b = await newKey();
    const bogus = "0".repeat(32);
    secrets.add(bogus);
    await writeStore(file, { sid: b.sid, secret: bogus });
    await deleteKey(a);
    const error = await failureOf(verifyTwilioCredentials(credentials));
    expect(error).toBeInstanceOf(TwilioCredentialError);
    expect(error.message).toContain(masked(b.sid));
    expect(error.message).not.toContain(masked(a.sid));
  });

  it("a non-401 failure is passed through as it is, not called a credential problem", async () => {
    const a = await newKey();
    const credentials = credentialsFor(await storeFile(a));
    // Read first: reading a new key makes one check call of its own, which the fault must not hit.
    await credentials.current();
    emulator.faults.add({ kind: "server-error", status: 503, path: "/2010-04-01/Accounts/*/Messages.json", times: 1 });
    const error = await failureOf(verifyTwilioCredentials(credentials));
    expect(error).not.toBeInstanceOf(TwilioCredentialError);
    expect((error as TwilioApiError).status).toBe(503);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("secrets", () => {
  it("never appear in any error message, inspected error or handler output above", async () => {
    // The tests above ran first (same file, in order); this scans all they collected.
    expect(said.length).toBeGreaterThanOrEqual(20);
    expect(secrets.size).toBeGreaterThanOrEqual(10);
    expect(secrets.has(emulator.authToken)).toBe(true);
    const leaks = [...secrets].filter((secret) => said.some((text) => text.includes(secret)));
    expect(leaks).toEqual([]);
    // And the store files really do hold secrets, so the scan looked for the right thing.
    const stored = await readFile(join(dir, "app-1.env"), "utf8");
    expect([...secrets].some((secret) => stored.includes(secret))).toBe(true);
  });
});

describe("authenticated means accepted by Twilio", () => {
  it("a key just read is checked once: a deleted one reports authenticated false before any app call", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = credentialsFor(file);
    await credentials.current();
    expect(credentials.status()).toEqual({ keySid: a.sid, authenticated: true, store: answering });

    const b = await newKey();
    await deleteKey(b);
    await writeStore(file, b);
    await credentials.refresh();
    expect(credentials.status()).toEqual({ keySid: b.sid, authenticated: false, store: answering });
  });
});

describe("counting 20003 answers (for an app's own alert on 401s)", () => {
  it("counts every 401 Twilio gives, recovered or not, and calls the callback with masked ids only", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const events: unknown[] = [];
    const credentials = new TwilioCredentials({
      store: { name: "app", type: "dotenv-file", path: file },
      ttlSeconds: 3600,
      twilioBaseUrl: emulator.baseUrl,
      onAuthenticationFailure: (event) => events.push(event),
    });
    credentialsMade.push(credentials);
    await credentials.withClient(recordingCall().call);
    expect(credentials.authenticationFailures).toBe(0);

    await deleteKey(a);
    await failureOf(credentials.withClient(recordingCall().call));
    expect(credentials.authenticationFailures).toBe(1);

    // The store catches up: the next call gets one more 401, then succeeds with the new key.
    const b = await newKey();
    await writeStore(file, b);
    await credentials.withClient(recordingCall().call);
    expect(credentials.authenticationFailures).toBe(2);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      credential: masked(a.sid),
      accountSid: `AC…${emulator.accountSid.slice(-4)}`,
      during: "call",
    });
    said.push(JSON.stringify(events));
    expect(JSON.stringify(events)).not.toContain(a.sid);
  });

  it("a callback that throws never turns into the app's error", async () => {
    const a = await newKey();
    const file = await storeFile(a);
    const credentials = new TwilioCredentials({
      store: { name: "app", type: "dotenv-file", path: file },
      ttlSeconds: 3600,
      twilioBaseUrl: emulator.baseUrl,
      onAuthenticationFailure: () => {
        throw new Error("monitoring is down");
      },
    });
    credentialsMade.push(credentials);
    await credentials.current();
    await deleteKey(a);
    const error = await failureOf(credentials.withClient(recordingCall().call));
    expect((error as TwilioApiError).status).toBe(401);
    expect(credentials.authenticationFailures).toBe(1);
  });
});
