/**
 * End-to-end harness: a real Twilio emulator (in this test process), real dotenv files in a temp dir, and
 * the real `rotator` binary in a child process, so that kill -9 and concurrent runs are what they say.
 * Every byte the CLI prints and every journal it writes is kept for the secret scan.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { startTwilioEmulator, type TwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient, keyAuthenticates } from "../../src/twilio/client.js";
import { packageRoot } from "../../src/util/package-root.js";

export const root = packageRoot();
const bin = join(root, "bin", "rotator.js");

/** Build dist/ once if a developer runs vitest without `npm test` (which builds first). */
export function ensureBuilt(): void {
  if (!existsSync(join(root, "dist", "src", "cli", "main.js"))) {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
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
  return new Promise((resolve, reject) => {
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
    child.on("error", reject);
    child.on("close", (code, signal) => {
      transcript.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
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

/**
 * The lifecycle an e2e file shares: a built CLI, an emulator that reports every secret it issues, and at the
 * end the secret scan over all output and journals, then cleanup. Call once at the top level of a file.
 */
export function useE2e(): {
  readonly emulator: TwilioEmulator;
  readonly issuedSecrets: Set<string>;
  readonly workspaces: Workspace[];
  workspace(stores?: number): Promise<Workspace>;
} {
  let emulator: TwilioEmulator | undefined;
  const issuedSecrets = new Set<string>();
  const workspaces: Workspace[] = [];
  beforeAll(async () => {
    ensureBuilt();
    emulator = await startTwilioEmulator({ port: 0, onSecretIssued: (secret) => issuedSecrets.add(secret) });
  });
  afterAll(async () => {
    expect(await secretLeaks(issuedSecrets, workspaces)).toEqual([]);
    await emulator?.close();
    await Promise.all(workspaces.map(cleanup));
  });
  return {
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
