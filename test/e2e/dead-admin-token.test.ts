/**
 * When the admin credential is the account's Auth Token and that token dies (issue #17, item 5). Each test
 * rotates a subaccount's token of its own.
 *
 * - `admin: { authToken: { fromStore } }` after a promote done in the Console: the stores' token is dead, so is
 *   the admin read from them; `sync --from-env NEW` uses the supplied token (checked) as the admin;
 * - the same after Twilio reset the token: `rotate --emergency` says fromStore is why and which flag to pass;
 *   `--admin-from-env` rotates with the current token as admin;
 * - configs whose admin is the token: the API-key config of the same account, journaled in this state, is
 *   named by the token config's plan and rotate, and the result says it now holds a dead admin credential.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTwilioClient } from "../../src/twilio/client.js";
import { ADMIN_VARIABLE, configYaml, readStoreKey, runJson, useE2e } from "./harness.js";
import {
  fingerprint,
  strandedTokenStores,
  tokenArgs,
  tokenIn,
  tokensOf,
  tokenWorks,
  tokenWorkspace,
} from "./token-workspace.js";

const e2e = useE2e();

const args = tokenArgs;

const fromStore = { twilio: { admin: { authToken: { fromStore: "app-1" } } } };

describe("admin: { authToken: { fromStore } } once the stores' token is dead", () => {
  it("promoted in the Console: sync --from-env NEW uses the supplied token as the admin credential", async () => {
    const ws = await tokenWorkspace(e2e);
    const config = await ws.tokenConfig("config", ["app-1", "app-2"], fromStore);
    // Someone creates a secondary in the Console and promotes it: the stores (and fromStore) hold a dead token.
    const current = e2e.emulator.createSecondaryToken(ws.account.sid);
    ws.secrets.push(current);
    e2e.emulator.promote(ws.account.sid);
    expect(await tokenWorks(e2e.emulator, ws.account.sid, ws.account.token)).toBe(false);

    const synced = await runJson(args(config, "sync", "--from-env", "NEW_TOKEN"), {
      env: { ...ws.env, NEW_TOKEN: current },
    });
    expect(synced.run.code, synced.run.stderr).toBe(0);
    for (const file of config.stores) expect(await tokenIn(file)).toBe(current);
    expect(synced.result.warnings.join("\n")).toMatch(
      /admin credential: store app-1 \(Twilio refuses it: promoted away, or reset\) no longer works; this run went on with the token from env NEW_TOKEN \(supplied to sync, checked with Twilio\)/,
    );
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
    // From now on fromStore reads the current token: a plan has no problem.
    const plan = await runJson(args(config, "plan"), { env: ws.env });
    expect((plan.result as unknown as { problems: string[] }).problems).toEqual([]);
  });

  it("reset by Twilio: rotate --emergency names fromStore as the cause and the flag; --admin-from-env rotates", async () => {
    const ws = await tokenWorkspace(e2e);
    const config = await ws.tokenConfig("config", ["app-1", "app-2"], fromStore);
    const current = e2e.emulator.rotatePrimaryToken(ws.account.sid);
    ws.secrets.push(current);

    const refused = await runJson(args(config, "rotate", "--emergency", "--yes"), { env: ws.env });
    expect(refused.run.code).toBe(2);
    expect(refused.result.error).toMatch(
      /the admin credential is the Auth Token in store app-1 \(twilio\.admin\.authToken\.fromStore\), and Twilio refuses it .*`rotator sync --from-env NAME`.*`rotator rotate --emergency --admin-from-env NAME`/s,
    );
    for (const file of config.stores) expect(await tokenIn(file)).toBe(ws.account.token);

    // A token Twilio refuses is refused as the stand-in too, before anything changes.
    const wrong = await runJson(args(config, "rotate", "--emergency", "--admin-from-env", "OLD", "--yes"), {
      env: { ...ws.env, OLD: ws.account.token },
    });
    expect(wrong.run.code).toBe(2);
    expect(wrong.result.error).toContain("--admin-from-env: Twilio refuses the token in OLD");

    const env = { ...ws.env, CURRENT_TOKEN: current };
    const rotated = await runJson(args(config, "rotate", "--emergency", "--admin-from-env", "CURRENT_TOKEN", "--yes"), {
      env,
    });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    const token = (await tokenIn(config.stores[0]!))!;
    ws.secrets.push(token);
    expect(await tokenIn(config.stores[1]!)).toBe(token);
    expect(tokensOf(e2e.emulator, ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: null });
    expect(await tokenWorks(e2e.emulator, ws.account.sid, current)).toBe(false);
    expect(await strandedTokenStores(ws, e2e.emulator)).toEqual([]);
  });
});

describe("configs whose admin credential is the token being rotated", () => {
  it("fromStore, a store the run rewrites: its promote is no warning (the store holds the new token); env keeps one", async () => {
    const ws = await tokenWorkspace(e2e);
    const own = await ws.tokenConfig("own", ["app-1", "app-2"], fromStore);
    const rotated = await runJson(args(own, "rotate", "--yes"), { env: ws.env });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    const token = (await tokenIn(own.stores[0]!))!;
    ws.secrets.push(token);
    expect(rotated.result.warnings.join("\n")).not.toContain("admin credential");
    expect(rotated.run.stderr).not.toMatch(/warning: .*admin credential/);
    expect(rotated.run.stderr).toContain(
      "admin credential: store app-1 held the token this run promoted away; it holds the run's new token now",
    );
    // As said: the next run reads the new token from app-1 and has nothing to fix.
    const plan = await runJson(args(own, "plan"), { env: ws.env });
    expect((plan.result as unknown as { problems: string[] }).problems).toEqual([]);

    // The same account's token from an environment variable: that variable now holds a dead token, a warning.
    const fromEnv = await ws.tokenConfig("env", ["app-1", "app-2"]);
    const again = await runJson(args(fromEnv, "rotate", "--yes"), { env: { ...ws.env, [ADMIN_VARIABLE]: token } });
    expect(again.run.code, again.run.stderr).toBe(0);
    ws.secrets.push((await tokenIn(fromEnv.stores[0]!))!);
    expect(again.result.warnings.join("\n")).toContain(
      `the admin credential env ${ADMIN_VARIABLE} holds the old token, which no longer works: put the new token there`,
    );
  });

  it("the API-key config of the same account: plan names it, rotate says it now holds a dead admin", async () => {
    const ws = await tokenWorkspace(e2e);
    // The API-key config of the same account, its admin the account's token (env), journaled in this state.
    const client = createTwilioClient({
      accountSid: ws.account.sid,
      username: ws.account.sid,
      password: ws.account.token,
      baseUrl: e2e.emulator.baseUrl,
    });
    const key = await client.api.v2010.accounts(ws.account.sid).newKeys.create({ friendlyName: "seed" });
    ws.secrets.push(key.secret);
    const keyStore = join(ws.dir, "api.env");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      keyStore,
      `TWILIO_ACCOUNT_SID=${ws.account.sid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
      { mode: 0o600 },
    );
    const token = await ws.tokenConfig("token", ["app-1"], fromStore);
    const keyConfig = join(ws.dir, "api-key.yaml");
    await writeFile(
      keyConfig,
      configYaml({
        version: 1,
        twilio: {
          accountSid: ws.account.sid,
          admin: { authToken: { env: ADMIN_VARIABLE } },
          baseUrl: e2e.emulator.baseUrl,
        },
        credential: { type: "api-key", friendlyNamePrefix: "e2e" },
        stores: [{ name: "api", type: "dotenv-file", path: keyStore }],
        verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 },
      }),
    );
    const keyArgs = (command: string, ...rest: string[]) => [
      command,
      "--config",
      keyConfig,
      "--state-dir",
      token.stateDir,
      "--json",
      ...rest,
    ];
    const keyRotated = await runJson(keyArgs("rotate"), { env: ws.env });
    expect(keyRotated.run.code, keyRotated.run.stderr).toBe(0);
    ws.secrets.push((await readStoreKey(keyStore)).secret!);

    const plan = await runJson(args(token, "plan"), { env: ws.env });
    expect(plan.run.code, plan.run.stdout).toBe(0);
    const planned = plan.result as unknown as { notes: string[]; adminDependents: unknown };
    expect(planned.adminDependents).toEqual([{ config: keyConfig, admin: `Auth Token from env ${ADMIN_VARIABLE}` }]);
    expect(planned.notes.join("\n")).toContain(
      `config ${keyConfig} uses this account's Auth Token as its admin credential`,
    );

    const rotated = await runJson(args(token, "rotate", "--yes"), { env: ws.env });
    expect(rotated.run.code, rotated.run.stderr).toBe(0);
    ws.secrets.push((await tokenIn(token.stores[0]!))!);
    expect(rotated.result.adminDependents).toEqual([
      {
        config: keyConfig,
        admin: `Auth Token from env ${ADMIN_VARIABLE}`,
        deadAdmin: true,
        detail: `env ${ADMIN_VARIABLE} (as this environment has it) holds the old token, which no longer works: put the new token there`,
      },
    ]);
    expect(rotated.result.warnings.join("\n")).toContain(
      `config ${keyConfig} uses this account's Auth Token as its admin credential`,
    );
    // As said: the API-key config's admin is now refused (status --check: a problem rotate would stop on).
    const status = await runJson(keyArgs("status", "--check"), { env: ws.env });
    expect(status.run.code).toBe(13);
  });
});
