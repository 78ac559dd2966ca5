/**
 * The sandbox behind `--sandbox`: the real engine against the in-process Twilio emulator, two dotenv files
 * in a temporary directory seeded with a current key, and three app instances (separate processes on the
 * consumer library, src/sandbox/sandbox-app.ts) that read those files and call Twilio every 50 ms the whole time.
 * A new user sees the whole promise without a cloud account: every store written, every app switched
 * before the old key is revoked, and not one request refused with 20003.
 *
 * With `--credential auth-token` it rotates the account's Auth Token instead, and the apps also validate the
 * webhooks the emulator sends them (an inbound message to each every 50 ms, signed as Twilio signs them, with
 * the old token for 2 s after the promote): not one of those may be rejected either.
 *
 * Start-up is most of a sandbox run's wall time, and most of an app's start-up is loading its modules: the
 * apps are spawned first (the command starts the sandbox before it loads the engine: startSandboxFirst),
 * before this module loads the emulator and the Twilio SDK, and told where their store and Twilio are once
 * those exist (sandbox-app.ts). Both run bundled (scripts/bundle.ts).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { StoredCredential } from "../../providers/contract.js";
import { httpCall } from "../consumer-probes/http-request.js";
import { credentialTypeOf, definitionOf } from "../credentials/registry.js";
import { credentialId, secretsOf } from "../credentials/stored.js";
import type { TwilioEmulator } from "../emulator/index.js";
import { registerSecret } from "../util/mask.js";
import {
  dotenvLines,
  maskedIdOf,
  SANDBOX_WEBHOOK_INTERVAL_MS,
  type SandboxCredentialKind,
  sandboxCredentialKind,
} from "./credential-kinds.js";
import type { SandboxCredentialType, SandboxOptions } from "./options.js";

export const SANDBOX_TOKEN_VARIABLE = "ROTATOR_SANDBOX_AUTH_TOKEN";

/** The apps: two instances of a web app reading app-a.env, one worker reading app-b.env. */
const APPS = [
  { name: "web-1", store: "app-a" },
  { name: "web-2", store: "app-a" },
  { name: "worker-1", store: "app-b" },
] as const;

export interface SandboxApp {
  name: string;
  /** Calls to Twilio it made while the sandbox ran. */
  requests: number;
  /** Of which Twilio answered 20003 (the promise: none). */
  refused: number;
  /** Webhooks Twilio sent it that reached it (an Auth Token sandbox sends them; 0 otherwise). */
  webhooksReceived: number;
  /** Of which it answered 403: a signature made with no token it trusted then (the promise: none). */
  webhooksRejected: number;
}

export interface SandboxSummary {
  /** What it rotated. */
  credential: SandboxCredentialType;
  /** Whether Twilio sent its apps webhooks (it signs them with the Auth Token: an Auth Token sandbox). */
  webhooks: boolean;
  /** The outcome checked independently of the engine, one finding per line. */
  checks: string[];
  apps: SandboxApp[];
  /** What to do next for a real setup. */
  next: string[];
}

export interface Sandbox {
  dir: string;
  configPath: string;
  stateDir: string;
  env: Record<string, string | undefined>;
  emulator: TwilioEmulator;
  /** The id of the credential the stores started with (a key's SID, a token's fingerprint). */
  seededId: string;
  /** Check the outcome independently of the engine, and stop the apps to collect what they saw. */
  summary(): Promise<SandboxSummary>;
  close(): Promise<void>;
}

const envFile = (app: string, credential: StoredCredential) =>
  [
    `# ${app}: Twilio credentials, rewritten by rotator (sandbox)`,
    `APP_NAME=${app}`,
    ...dotenvLines(credential),
    "LOG_LEVEL=info",
    "",
  ].join("\n");

/** Where a sandbox app takes the webhooks its phone number gets. */
const WEBHOOK_PATH = "/webhooks/sms";

interface RunningApp {
  name: string;
  url: string;
  child: ChildProcess;
}

/** An app process loading its modules, not yet told its store. */
interface StartingApp {
  name: string;
  /** The sandbox store whose file it reads. */
  store: string;
  child: ChildProcess;
  /** Send it its settings (sandbox-app.ts); resolves once it has read its credential and listens. */
  configure(settings: { store: unknown; twilioBaseUrl: string; kind: string; webhooks: boolean }): Promise<RunningApp>;
}

/**
 * Start the sandbox. The apps are spawned before the first await, so a caller that goes on loading modules
 * of its own (the CLI loading the engine) does so while they load theirs.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const starting = APPS.map(spawnApp);
  const kind = sandboxCredentialKind(options.credential);
  // What to undo if the start fails half-way.
  const owned: { emulator?: TwilioEmulator; dir?: string } = {};
  try {
    // The Twilio client is not needed until the checks at the end, but the engine needs it for the run:
    // loaded now, it loads while the apps load theirs.
    const [{ startTwilioEmulator }, { keyAuthenticates }] = await Promise.all([
      import("../emulator/index.js"),
      import("../twilio/client.js"),
    ]);
    // The seeded credential is made "91 days ago", as one due for its 90-day rotation would be (the account,
    // and so its token, is made when the emulator starts); the clock is real from then on.
    let clockOffsetMs = 91 * 86_400_000;
    const emulator = await startTwilioEmulator({
      port: 0,
      clock: () => Date.now() - clockOffsetMs,
      ...kind.emulatorOptions,
    });
    owned.emulator = emulator;
    registerSecret(emulator.authToken);
    const dir = await mkdtemp(join(tmpdir(), "rotator-sandbox-"));
    owned.dir = dir;
    // Seeded in the emulator directly, as a create over the API would make it: the apps wait for it, and a
    // call through the client would first load its 2010 resource tree.
    const seeded = kind.seed(emulator);
    for (const secret of secretsOf(seeded)) registerSecret(secret);
    clockOffsetMs = 0;
    for (const store of ["app-a", "app-b"]) {
      await writeFile(join(dir, `${store}.env`), envFile(store, seeded), { mode: 0o600 });
    }
    const apps = await Promise.all(
      starting.map((app) =>
        app.configure({
          store: { name: app.name, type: "dotenv-file", path: join(dir, `${app.store}.env`) },
          twilioBaseUrl: emulator.baseUrl,
          kind: kind.type,
          webhooks: kind.webhooks,
        }),
      ),
    );
    if (kind.webhooks) {
      // A number for each app, its inbound messages posted to the app, from now until the summary.
      for (const app of apps) {
        emulator.webhooks.seedPhoneNumber({ smsUrl: `${app.url}${WEBHOOK_PATH}`, friendlyName: app.name });
      }
      emulator.webhooks.startTraffic({ intervalMs: SANDBOX_WEBHOOK_INTERVAL_MS });
    }
    const configPath = join(dir, "rotator.yaml");
    await writeFile(configPath, sandboxConfig(emulator, apps, kind), { mode: 0o600 });
    const env = { ...process.env, [SANDBOX_TOKEN_VARIABLE]: emulator.authToken };
    const authenticates = (credential: StoredCredential) => {
      const login = definitionOf(credential).twilioLogin(credential);
      return keyAuthenticates({
        accountSid: credential.accountSid,
        keySid: login.username,
        secret: login.password,
        baseUrl: emulator.baseUrl,
      });
    };

    // Once: the summary stops them, and close() makes sure of it however the run ended.
    let stopped: Promise<SandboxApp[]> | undefined;
    const stopApps = (): Promise<SandboxApp[]> => {
      stopped ??= stopWebhooks(emulator).then(() => Promise.all(apps.map(stopApp)));
      return stopped;
    };

    return {
      dir,
      configPath,
      stateDir: options.stateDir ?? join(dir, "state"),
      env,
      emulator,
      seededId: credentialId(seeded),
      async summary() {
        // The run is over: the apps stop (and report what they saw) while the checks below are made.
        const stoppingApps = stopApps();
        const checks: string[] = [];
        const { DotenvFileProvider } = await import("../../providers/dotenv-file/provider.js");
        const held = await Promise.all(
          ["app-a", "app-b"].map(async (name) => {
            const provider = new DotenvFileProvider(
              { name, type: "dotenv-file", path: `${name}.env` },
              { credential: credentialTypeOf(kind.type), baseDir: dir, env },
            );
            return { name, credential: (await provider.read()).credential };
          }),
        );
        for (const { name, credential } of held) {
          checks.push(`${name}.env holds ${maskedIdOf(credential)}`, ...kind.storeChecks(name, credential));
        }
        const current = held[0]?.credential;
        const rotated = current !== undefined && credentialId(current) !== credentialId(seeded) ? current : undefined;
        const [newWorks, oldWorks] = await Promise.all([
          rotated === undefined ? undefined : authenticates(rotated),
          authenticates(seeded),
        ]);
        if (rotated !== undefined) {
          checks.push(
            `new ${kind.noun} ${maskedIdOf(rotated)}: ${newWorks ? "authenticates" : "DOES NOT authenticate"}`,
          );
          for (const secret of secretsOf(rotated)) registerSecret(secret);
        }
        checks.push(
          `old ${kind.noun} ${maskedIdOf(seeded)}: ${oldWorks ? "still authenticates" : `refused by Twilio with 20003 (${kind.oldGone})`}`,
        );
        checks.push(...kind.accountChecks(emulator));
        const seen = await stoppingApps;
        const requests = sum(seen, (app) => app.requests);
        const refused = sum(seen, (app) => app.refused);
        checks.push(`${seen.length} apps made ${requests} requests to Twilio during the run; ${refused} got 20003`);
        if (kind.webhooks) checks.push(webhookCheck(emulator, apps));
        return { credential: kind.type, webhooks: kind.webhooks, checks, apps: seen, next: [...kind.nextSteps] };
      },
      async close() {
        await stopApps().catch(() => undefined);
        await emulator.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const app of starting) app.child.kill("SIGKILL");
    await owned.emulator?.close();
    if (owned.dir !== undefined) await rm(owned.dir, { recursive: true, force: true });
    throw error;
  }
}

const sum = (apps: SandboxApp[], count: (app: SandboxApp) => number) => apps.reduce((n, app) => n + count(app), 0);

/** Stops the inbound traffic and lets the webhooks under way reach their apps (bounded: an app may hang). */
async function stopWebhooks(emulator: TwilioEmulator): Promise<void> {
  emulator.webhooks.stopTraffic();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    emulator.webhooks.idle(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 5_000);
    }),
  ]);
  clearTimeout(timer);
}

/** What Twilio (the emulator) counted of the webhooks it sent the apps: independent of what the apps say. */
function webhookCheck(emulator: TwilioEmulator, apps: RunningApp[]): string {
  const urls = new Set(apps.map((app) => `${app.url}${WEBHOOK_PATH}`));
  const counts = emulator.webhooks.counts().byUrl.filter((c) => urls.has(c.url));
  const total = (field: "sent" | "accepted" | "rejected" | "failed") => counts.reduce((n, c) => n + c[field], 0);
  return `Twilio sent the apps ${total("sent")} signed webhooks during the run: ${total("accepted")} accepted, ${total("rejected")} rejected, ${total("failed")} unanswered`;
}

function sandboxConfig(emulator: TwilioEmulator, apps: RunningApp[], kind: SandboxCredentialKind): string {
  return [
    "# Generated by `rotator --sandbox`: the same shape as a production config.",
    "version: 1",
    "twilio:",
    `  accountSid: ${emulator.accountSid}`,
    `  admin: ${kind.admin(SANDBOX_TOKEN_VARIABLE)}`,
    `  baseUrl: ${emulator.baseUrl}`,
    "credential:",
    ...kind.configLines,
    "stores:",
    "  - { name: app-a, type: dotenv-file, path: app-a.env }",
    "  - { name: app-b, type: dotenv-file, path: app-b.env }",
    `consumers: # each app reports the ${kind.noun} it uses${kind.webhooks ? " and the tokens it validates webhooks with" : ""}, and re-reads its file when asked`,
    ...apps.map(
      (app) =>
        `  - { name: ${app.name}, type: http, url: ${app.url}/.well-known/twilio-credential, reload: { url: ${app.url}/-/reload-credentials } }`,
    ),
    "verify: { newKeyTimeoutSeconds: 10, revokeConfirmSeconds: 5, consumersTimeoutSeconds: 20, consumersPollSeconds: 0.1 }",
    "",
  ].join("\n");
}

/**
 * The app script, next to this module: compiled (dist/src), bundled (dist/bundle: this module is then one of
 * the bundle's chunks, beside the app's entry), or run from source through tsx in tests.
 */
function appScript(): { command: string; args: string[] } {
  if (import.meta.url.endsWith(".ts")) {
    return {
      command: process.execPath,
      args: ["--import", "tsx", fileURLToPath(new URL("sandbox-app.ts", import.meta.url))],
    };
  }
  return { command: process.execPath, args: [fileURLToPath(new URL("sandbox-app.js", import.meta.url))] };
}

function spawnApp({ name, store }: (typeof APPS)[number]): StartingApp {
  const { command, args } = appScript();
  const child = spawn(command, args, {
    // stdin stays open: the app ends when it closes, so an app never outlives a killed sandbox.
    stdio: ["pipe", "pipe", "ignore"],
  });
  // Whatever happens before it is configured is reported by `configure`, not as an unhandled error.
  const ready = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`sandbox app ${name} exited (${code}) before it was ready`)));
    child.once("error", reject);
  });
  ready.catch(() => undefined);
  child.stdin!.on("error", () => undefined);
  return {
    name,
    store,
    child,
    async configure(settings) {
      child.stdin!.write(`${JSON.stringify(settings)}\n`);
      const { port } = JSON.parse(await ready) as { port: number };
      return { name, url: `http://127.0.0.1:${port}`, child };
    },
  };
}

async function stopApp(app: RunningApp): Promise<SandboxApp> {
  let stats = { requests: 0, refused: 0, webhooksReceived: 0, webhooksRejected: 0 };
  try {
    // node:http rather than fetch: the first fetch compiles undici's WebAssembly HTTP parser on V8's
    // background threads, and the process's exit then waits (about 75 ms here) for that to finish.
    const answer = await httpCall("GET", `${app.url}/stats`, { headers: {}, timeoutMs: 2_000 });
    stats = JSON.parse(answer.body) as typeof stats;
  } catch {
    // A dead app has no stats; what it saw is lost, and shows as 0 requests.
  }
  const exited = new Promise<void>((resolve) => {
    if (app.child.exitCode !== null) resolve();
    else app.child.once("exit", () => resolve());
  });
  app.child.kill("SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  if (app.child.exitCode === null) app.child.kill("SIGKILL");
  return {
    name: app.name,
    requests: stats.requests,
    refused: stats.refused,
    webhooksReceived: stats.webhooksReceived,
    webhooksRejected: stats.webhooksRejected,
  };
}

/** For tests: the raw text of a sandbox store. */
export function readSandboxFile(sandbox: Sandbox, app: "app-a" | "app-b"): Promise<string> {
  return readFile(join(sandbox.dir, `${app}.env`), "utf8");
}
