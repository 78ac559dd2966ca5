/**
 * End-to-end harness: a real Twilio emulator (in this test process), real dotenv files in a temp dir, and
 * the real `rotator` binary in a child process, so that kill -9 and concurrent runs are what they say.
 * Every byte the CLI prints and every journal it writes is kept for the secret scan.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { afterAll, beforeAll, expect } from "vitest";
import { stringify } from "yaml";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import type { CommandResult } from "../../src/engine/result.js";
import { createTwilioClient, keyAuthenticates } from "../../src/twilio/client.js";
import { packageRoot } from "../../src/util/package-root.js";

export const root = packageRoot();
const bin = join(root, "bin", "rotator.js");

/** Build dist/ once if a developer runs vitest without `npm test` (which builds first). */
export function ensureBuilt(): void {
  if (!existsSync(join(root, "dist", "bundle", "main.js"))) {
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  }
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Everything printed by every CLI run in this test file. */
export const transcript: string[] = [];

export function runCli(
  args: string[],
  options: { env: Record<string, string | undefined>; cwd?: string },
): Promise<CliRun> {
  return startCli(args, options).done;
}

/** The CLI started in a child process, for a test that signals it while it runs; `done` as runCli's. */
export function startCli(
  args: string[],
  options: { env: Record<string, string | undefined>; cwd?: string },
): { child: ChildProcess; done: Promise<CliRun>; stderr: () => string } {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? root,
    env: options.env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      transcript.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr };
}

export interface Workspace {
  dir: string;
  configPath: string;
  stateDir: string;
  env: Record<string, string | undefined>;
  seeded: { sid: string; secret: string };
  storeFiles: string[];
  /** Secrets this workspace created or learned, for the scan. */
  secrets: string[];
  /** The emulator's account and address, as written into the config (for configFor). */
  twilio: { accountSid: string; baseUrl: string };
  writeConfig(extra?: string): Promise<void>;
}

export const ADMIN_VARIABLE = "TEST_TWILIO_AUTH_TOKEN";

export function adminClient(emulator: TwilioEmulator) {
  return createTwilioClient({
    accountSid: emulator.accountSid,
    username: emulator.accountSid,
    password: emulator.authToken,
    baseUrl: emulator.baseUrl,
  });
}

/** Whether Twilio (the emulator) accepts this key now: false means 401/20003. */
export function authenticates(emulator: TwilioEmulator, sid: string, secret: string): Promise<boolean> {
  return keyAuthenticates({ accountSid: emulator.accountSid, keySid: sid, secret, baseUrl: emulator.baseUrl });
}

export function envText(accountSid: string, sid: string, secret: string, app: string): string {
  return `# ${app}\nAPP=${app}\nexport TWILIO_ACCOUNT_SID=${accountSid}\nTWILIO_API_KEY=${sid}\nTWILIO_API_SECRET="${secret}"\n# trailing comment\n`;
}

/** A temp dir with N dotenv stores holding a freshly created key, and a config naming them. */
export async function makeWorkspace(emulator: TwilioEmulator, storeCount = 2): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-e2e-"));
  const key = await adminClient(emulator)
    .api.v2010.accounts(emulator.accountSid)
    .newKeys.create({ friendlyName: "seed" });
  const storeFiles: string[] = [];
  for (let i = 1; i <= storeCount; i++) {
    const file = join(dir, `app-${i}.env`);
    await writeFile(file, envText(emulator.accountSid, key.sid, key.secret, `app-${i}`), { mode: 0o600 });
    storeFiles.push(file);
  }
  const workspace: Workspace = {
    dir,
    configPath: join(dir, "rotator.yaml"),
    stateDir: join(dir, "state"),
    env: { ...process.env, [ADMIN_VARIABLE]: emulator.authToken, ROTATOR_FAILPOINT: undefined },
    seeded: { sid: key.sid, secret: key.secret },
    storeFiles,
    secrets: [key.secret, emulator.authToken],
    twilio: { accountSid: emulator.accountSid, baseUrl: emulator.baseUrl },
    async writeConfig(extra = "") {
      const stores = storeFiles
        .map((file, i) => `  - { name: app-${i + 1}, type: dotenv-file, path: ${file} }`)
        .join("\n");
      await writeFile(
        workspace.configPath,
        `version: 1\ntwilio:\n  accountSid: ${emulator.accountSid}\n  admin: { authToken: { env: ${ADMIN_VARIABLE} } }\n  baseUrl: ${emulator.baseUrl}\ncredential:\n  type: api-key\n  friendlyNamePrefix: e2e\nstores:\n${stores}\nverify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }\n${extra}`,
      );
    },
  };
  await workspace.writeConfig();
  return workspace;
}

export const cliArgs = (ws: Workspace, command: string, ...rest: string[]) => [
  command,
  "--config",
  ws.configPath,
  "--state-dir",
  ws.stateDir,
  "--json",
  ...rest,
];

/** The journals a workspace's runs wrote, concatenated, for assertions and the secret scan. */
export async function journals(ws: Workspace): Promise<string> {
  const runs = join(ws.stateDir, "runs");
  if (!existsSync(runs)) return "";
  const names = (await readdir(runs)).sort();
  const texts = await Promise.all(names.map((name) => readFile(join(runs, name), "utf8")));
  return texts.join("");
}

/**
 * The records of a workspace's journals, parsed (a torn last line skipped): for assertions on events, whose
 * failure then shows a short list rather than kilobytes of JSON lines.
 */
export async function journalRecords(ws: Workspace): Promise<Array<Record<string, unknown> & { event: string }>> {
  return (await journals(ws))
    .split("\n")
    .filter((line) => line.startsWith("{") && line.endsWith("}"))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { event: string });
}

/** How each journaled run of a workspace ended (its run-finished records' status), in order. */
export async function finishedStatuses(ws: Workspace): Promise<unknown[]> {
  return (await journalRecords(ws)).filter((record) => record.event === "run-finished").map((record) => record.status);
}

export async function readStoreKey(file: string): Promise<{ sid: string | undefined; secret: string | undefined }> {
  const text = await readFile(file, "utf8");
  const value = (name: string) => text.match(new RegExp(`^(?:export )?${name}=["']?([^"'\\n]*)["']?$`, "m"))?.[1];
  return { sid: value("TWILIO_API_KEY"), secret: value("TWILIO_API_SECRET") };
}

export async function cleanup(ws: Workspace): Promise<void> {
  await rm(ws.dir, { recursive: true, force: true });
}

export { startTwilioEmulator, type TwilioEmulator };

/** An emulator that reports every secret it issues, so a file's afterAll can scan output for all of them. */
export async function startScannedEmulator(): Promise<{ emulator: TwilioEmulator; issuedSecrets: Set<string> }> {
  const issuedSecrets = new Set<string>();
  const emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => issuedSecrets.add(secret) });
  return { emulator, issuedSecrets };
}

/**
 * The secret scan: every secret issued or learned (workspaces' own, and what their stores hold now) against
 * every byte the CLI printed in this file and every journal written. Returns the leaks (expected: none)
 * without ever printing a secret.
 */
export async function secretLeaks(
  issued: Iterable<string>,
  workspaces: Workspace[],
  extraTexts: string[] = [],
): Promise<string[]> {
  const secrets = new Set<string>(issued);
  const texts = [...transcript, ...extraTexts];
  for (const ws of workspaces) {
    for (const secret of ws.secrets) secrets.add(secret);
    for (const file of ws.storeFiles) {
      const { secret } = await readStoreKey(file).catch(() => ({ secret: undefined }));
      if (secret) secrets.add(secret);
    }
    texts.push(await journals(ws));
  }
  return [...secrets]
    .filter((secret) => texts.some((text) => text.includes(secret)))
    .map((secret) => `${secret.slice(0, 2)}…`);
}

/** Poll a condition until it holds (or fail after timeoutMs); for "wait until the run reached step X". */
export async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface E2e {
  readonly emulator: TwilioEmulator;
  readonly issuedSecrets: Set<string>;
  readonly workspaces: Workspace[];
  workspace(stores?: number): Promise<Workspace>;
  /**
   * Run `stop` at the end of the file, before the secret scan: for processes whose output the scan must
   * see (consumer apps put their stderr in the transcript as they stop) and servers or proxies of the file's
   * own. Hooks run in the reverse order of registration, each even if an earlier one failed.
   */
  onTeardown(stop: () => Promise<void> | void): void;
}

/**
 * The lifecycle an e2e file shares: a built CLI, an emulator that reports every secret it issues, and at the
 * end the file's teardown hooks, the secret scan over all output and journals, then cleanup. Call once at the
 * top level of a file. Files whose stores live on the local servers use its extension, useServerE2e
 * (server-e2e.ts).
 */
export function useE2e(): E2e {
  let emulator: TwilioEmulator | undefined;
  const issuedSecrets = new Set<string>();
  const workspaces: Workspace[] = [];
  const teardown: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    ensureBuilt();
    emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => issuedSecrets.add(secret) });
  });
  afterAll(async () => {
    const failures: unknown[] = [];
    for (const stop of [...teardown].reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(error);
      }
    }
    expect(await secretLeaks(issuedSecrets, workspaces)).toEqual([]);
    await emulator?.close();
    await Promise.all(workspaces.map(cleanup));
    if (failures.length > 0) throw failures[0];
  });
  return {
    onTeardown(stop) {
      teardown.push(stop);
    },
    get emulator() {
      if (emulator === undefined) throw new Error("the emulator starts in beforeAll");
      return emulator;
    },
    issuedSecrets,
    workspaces,
    async workspace(stores = 2) {
      const ws = await makeWorkspace(this.emulator, stores);
      workspaces.push(ws);
      return ws;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Structured configs: a test says what differs from the workspace's config as data, instead of editing YAML.

/** In `configFor` overrides: delete this key (or list item). */
export const REMOVE: unique symbol = Symbol("remove this key");

/** Text put into the YAML as it is, in place of a value: for syntax errors and what YAML alone can say. */
export class RawYaml {
  constructor(readonly text: string) {}
}
export const rawYaml = (text: string): RawYaml => new RawYaml(text);

/**
 * What differs from the workspace's config, merged deeply: a value replaces, `REMOVE` deletes, a mapping
 * merges into a mapping, and a mapping keyed by index (`{ stores: { 0: { pathh: "x" } } }`) merges into a
 * list item by item (an index past the end appends). A list replaces a list whole.
 */
export type ConfigOverrides = { [key: string]: unknown };

/** The config `makeWorkspace` writes, as data: one dotenv store per store file, the emulator as Twilio. */
export function baseConfig(ws: Workspace): Record<string, unknown> {
  return {
    version: 1,
    twilio: {
      accountSid: ws.twilio.accountSid,
      admin: { authToken: { env: ADMIN_VARIABLE } },
      baseUrl: ws.twilio.baseUrl,
    },
    credential: { type: "api-key", friendlyNamePrefix: "e2e" },
    stores: ws.storeFiles.map((file, i) => ({ name: `app-${i + 1}`, type: "dotenv-file", path: file })),
    verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 },
  };
}

/** The workspace's config with `overrides` merged in (see ConfigOverrides). */
export function configFor(ws: Workspace, overrides: ConfigOverrides = {}): Record<string, unknown> {
  return merge(baseConfig(ws), overrides) as Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RawYaml);
}

function merge(base: unknown, override: unknown): unknown {
  if (Array.isArray(base) && isPlainObject(override)) {
    const out: unknown[] = [...base];
    const removed = new Set<number>();
    for (const [key, value] of Object.entries(override)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0) throw new Error(`configFor: "${key}" is not a list index`);
      if (value === REMOVE) removed.add(index);
      else out[index] = merge(out[index], value);
    }
    return out.filter((_, index) => !removed.has(index));
  }
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) {
      if (value === REMOVE) delete out[key];
      else out[key] = merge(out[key], value);
    }
    return out;
  }
  return override;
}

/** A config object as YAML (with the yaml library), RawYaml values written verbatim. */
export function configYaml(config: unknown): string {
  const raws: string[] = [];
  const placeholders = (value: unknown): unknown => {
    if (value instanceof RawYaml) {
      raws.push(value.text);
      return `__raw_${raws.length - 1}__`;
    }
    if (Array.isArray(value)) return value.map(placeholders);
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, placeholders(v)]));
    return value;
  };
  const text = stringify(placeholders(config), { lineWidth: 0 });
  return text.replace(/__raw_(\d+)__/g, (_, index: string) => raws[Number(index)] ?? "");
}

/**
 * Write the workspace's config with `overrides` to `ws.configPath` (or `options.file`), optionally passing
 * the YAML through `options.edit` first; returns the text written.
 */
export async function writeConfigFor(
  ws: Workspace,
  overrides: ConfigOverrides = {},
  options: { edit?: (yaml: string) => string; file?: string } = {},
): Promise<string> {
  const yaml = configYaml(configFor(ws, overrides));
  const text = options.edit ? options.edit(yaml) : yaml;
  await writeFile(options.file ?? ws.configPath, text);
  return text;
}

/**
 * Run the CLI with `--json` (added if missing) and parse its one result object. Fails the test, showing
 * stdout and stderr, when stdout is not exactly one JSON object.
 */
export async function runJson<Result extends CommandResult = CommandResult>(
  args: string[],
  options: { env: Record<string, string | undefined>; cwd?: string },
): Promise<{ run: CliRun; result: Result }> {
  const run = await runCli(args.includes("--json") ? args : [...args, "--json"], options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    parsed = undefined;
  }
  if (!isPlainObject(parsed)) {
    expect.fail(
      `rotator ${args.join(" ")} (exit ${run.code}) did not print one JSON object on stdout\n` +
        `--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`,
    );
  }
  return { run, result: parsed as Result };
}

/** A writable stream that keeps what is written, pretending to be a terminal when asked. */
export class CapturedStream extends Writable {
  text = "";
  isTTY: boolean;
  columns = 80;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command in this process through the same program the binary runs (src/cli/program.ts), for the
 * cases a spawned process adds nothing to: help text, output conventions, a fake terminal for the prompt.
 * `answer` is typed at the prompt; `signalAfter` sends the run a SIGINT once the predicate holds.
 */
export async function runInProcess(
  args: string[],
  options: {
    env: Record<string, string | undefined>;
    cwd?: string;
    tty?: boolean;
    answer?: string;
    signal?: { when: (stderr: string) => boolean; name?: NodeJS.Signals };
  },
): Promise<InProcessRun> {
  const stdout = new CapturedStream(options.tty ?? false);
  const stderr = new CapturedStream(options.tty ?? false);
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  stdin.isTTY = options.tty ?? false;
  const handlers: Array<(signal: NodeJS.Signals) => void> = [];
  let poller: NodeJS.Timeout | undefined;
  if (options.answer !== undefined || options.signal !== undefined) {
    let answered = false;
    let signalled = false;
    poller = setInterval(() => {
      if (options.answer !== undefined && !answered && stderr.text.includes("[y/N]")) {
        answered = true;
        stdin.write(`${options.answer}\n`);
      }
      if (options.signal !== undefined && !signalled && options.signal.when(stderr.text)) {
        signalled = true;
        for (const handler of handlers) handler(options.signal.name ?? "SIGINT");
      }
    }, 10);
  }
  const { runProgram } = await import("../../src/cli/program.js");
  try {
    const code = await runProgram(args, {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
      stdin,
      env: options.env,
      cwd: options.cwd ?? root,
      onSignal(handler) {
        handlers.push(handler);
        return () => handlers.splice(handlers.indexOf(handler), 1);
      },
      hardExit(code) {
        throw new Error(`the command asked to exit at once with ${code}`);
      },
    });
    transcript.push(stdout.text, stderr.text);
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    if (poller !== undefined) clearInterval(poller);
    stdin.end();
  }
}
