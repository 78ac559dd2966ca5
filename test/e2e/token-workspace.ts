/**
 * Auth Token test set-up shared by the token e2e files: a subaccount of its own (a token is promoted by its own
 * account, so tests never see each other's tokens), dotenv stores holding its primary token, configs written
 * as data, and what Twilio (the emulator) says of the account's tokens.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient, isTwilioApiError } from "../../src/twilio/client.js";
import { ADMIN_VARIABLE, type ConfigOverrides, configYaml, type E2e, type Workspace } from "./harness.js";

export const fingerprint = (token: string): string => createHash("sha256").update(token).digest("hex").slice(0, 16);

export interface TokenAccount {
  sid: string;
  /** The primary token when the account was made. */
  token: string;
}

export interface TokenConfig {
  /** The config file. */
  file: string;
  stateDir: string;
  stores: string[];
}

export interface TokenWorkspace extends Workspace {
  account: TokenAccount;
  /**
   * A config of this account's token over `stores` (dotenv files holding the primary, made here when new),
   * with its own state directory; `overrides` merge into the config as in harness.ts configFor.
   */
  tokenConfig(name: string, stores: string[], overrides?: ConfigOverrides): Promise<TokenConfig>;
}

/** A subaccount of `emulator` and an empty workspace for its token's configs. */
export async function tokenWorkspace(e2e: E2e, emulator: TwilioEmulator = e2e.emulator): Promise<TokenWorkspace> {
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: "token-" });
  const account = { sid: sub!.sid, token: sub!.authToken };
  const dir = await mkdtemp(join(tmpdir(), "rotator-token-"));
  const ws: TokenWorkspace = {
    dir,
    configPath: join(dir, "rotator.yaml"),
    stateDir: join(dir, "state"),
    env: { ...process.env, [ADMIN_VARIABLE]: account.token, ROTATOR_FAILPOINT: undefined },
    seeded: { sid: account.sid, secret: account.token },
    storeFiles: [],
    secrets: [account.token],
    twilio: { accountSid: account.sid, baseUrl: emulator.baseUrl },
    account,
    async writeConfig() {},
    async tokenConfig(name, stores, overrides = {}) {
      const files = stores.map((store) => join(dir, `${store}.env`));
      for (const file of files) {
        if (!ws.storeFiles.includes(file)) {
          await writeFile(file, `TWILIO_ACCOUNT_SID=${account.sid}\nTWILIO_AUTH_TOKEN=${account.token}\n`, {
            mode: 0o600,
          });
          ws.storeFiles.push(file);
        }
      }
      const base = {
        version: 1,
        twilio: { accountSid: account.sid, admin: { authToken: { env: ADMIN_VARIABLE } }, baseUrl: emulator.baseUrl },
        credential: { type: "auth-token", webhookSigningLagSeconds: 0 },
        stores: stores.map((store, i) => ({ name: store, type: "dotenv-file", path: files[i] })),
        verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersPollSeconds: 0.2 },
      };
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, configYaml(mergeShallow(base, overrides)));
      const stateDir = join(dir, `state-${name}`);
      await mkdir(stateDir, { recursive: true });
      return { file, stateDir, stores: files };
    },
  };
  e2e.workspaces.push(ws);
  return ws;
}

/** One level of merging: top-level sections replace, `verify` and `twilio` merge key by key. */
function mergeShallow(base: Record<string, unknown>, overrides: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key];
    out[key] =
      (key === "verify" || key === "twilio") && typeof current === "object" && typeof value === "object"
        ? { ...(current as object), ...(value as object) }
        : value;
  }
  return out;
}

/** A command on a token config, with its own state directory, its result as JSON. */
export const tokenArgs = (config: TokenConfig, command: string, ...rest: string[]): string[] => [
  command,
  "--config",
  config.file,
  "--state-dir",
  config.stateDir,
  "--json",
  ...rest,
];

export async function tokenIn(file: string): Promise<string | undefined> {
  return (await readFile(file, "utf8")).match(/^TWILIO_AUTH_TOKEN=(.*)$/m)?.[1];
}

/** Whether the emulator accepts this account's token now (false: 401/20003). */
export async function tokenWorks(emulator: TwilioEmulator, sid: string, token: string): Promise<boolean> {
  const client = createTwilioClient({ accountSid: sid, username: sid, password: token, baseUrl: emulator.baseUrl });
  try {
    await client.api.v2010.accounts(sid).fetch();
    return true;
  } catch (error) {
    if (isTwilioApiError(error) && error.status === 401) return false;
    throw error;
  }
}

/** The account's primary fingerprint and its secondary's (null: none), as the emulator holds them. */
export function tokensOf(emulator: TwilioEmulator, sid: string): { primary: string; secondary: string | null } {
  const account = emulator.snapshot().accounts.find((a) => a.sid === sid)!;
  return {
    primary: account.authToken.fingerprint.replace(/^sha256:/, ""),
    secondary: account.secondaryAuthToken?.fingerprint.replace(/^sha256:/, "") ?? null,
  };
}

/** The stores (files) holding a token Twilio refuses: stranded. Every token read is added to the scan. */
export async function strandedTokenStores(ws: TokenWorkspace, emulator: TwilioEmulator): Promise<string[]> {
  const stranded: string[] = [];
  for (const file of ws.storeFiles) {
    const token = await tokenIn(file);
    if (token === undefined) continue;
    if (!ws.secrets.includes(token)) ws.secrets.push(token);
    if (!(await tokenWorks(emulator, ws.account.sid, token))) stranded.push(file);
  }
  return stranded;
}

/**
 * A command consumer that uses whatever token its store holds (it reads the file at each check), once `ready`
 * exists (when given): until then it reports no token at all.
 */
export async function tokenReader(
  ws: TokenWorkspace,
  name: string,
  file: string,
  ready?: string,
): Promise<Record<string, unknown>> {
  const script = join(ws.dir, `${name}.sh`);
  const gate = ready === undefined ? "" : `test -f ${ready} || exit 1\n`;
  await writeFile(
    script,
    `#!/bin/sh\n${gate}t=$(sed -n 's/^TWILIO_AUTH_TOKEN=//p' ${file})\ntest "$(printf %s "$t" | sha256sum | cut -c1-16)" = "$ROTATOR_EXPECTED_TOKEN_FINGERPRINT"\n`,
    { mode: 0o755 },
  );
  return { name, type: "command", command: [script] };
}
