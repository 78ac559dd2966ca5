/**
 * An Auth Token rotation keeps the previous token beside the new one in every store across the promote, so apps
 * validate the webhooks Twilio signs with either, and retires it after: over a dotenv file, AWS Secrets Manager
 * (moto) and Vault KV v2 (OpenBao), each read directly (AWS by stage). The promote waits until every consumer that
 * reports its webhook tokens validates with both; the run ends once they validate with the new one only. A kill -9
 * at each new failpoint, and a store failing during the retire write, end with `resume` retiring it everywhere.
 */

import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type nodeVault from "node-vault";
import { beforeAll, describe, expect, it } from "vitest";
import { awsClient, vaultClient } from "../harness/servers.js";
import { cliArgs, journalRecords, runCli, startCli, until } from "./harness.js";
import { useServerE2e } from "./server-e2e.js";
import {
  fingerprint,
  type TokenConfig,
  type TokenWorkspace,
  tokenArgs,
  tokensOf,
  tokenWorks,
  tokenWorkspace,
} from "./token-workspace.js";

const e2e = useServerE2e();
let aws: SecretsManagerClient;
let vault: nodeVault.client;

beforeAll(() => {
  aws = awsClient(e2e.servers);
  vault = vaultClient(e2e.servers);
  e2e.onTeardown(async () => aws.destroy());
});

/** What one store holds: its current token and the previous one beside it (undefined: none). */
interface Held {
  token: string | undefined;
  previous: string | undefined;
}

interface RetireWorkspace {
  ws: TokenWorkspace;
  config: TokenConfig;
  dotenv: string;
  secretId: string;
  vaultPath: string;
  /** A Vault token of this workspace's own, whose policy a test can narrow to make the Vault store fail writes. */
  vaultPolicy: string;
  app: WebhookApp;
  /** What each store holds, read directly (AWS by its AWSCURRENT stage); every token read joins the scan. */
  held(): Promise<Record<"dotenv" | "aws" | "vault", Held>>;
  /** The run's journal events, in order. */
  events(): Promise<Array<{ event: string; ts: string; [key: string]: unknown }>>;
}

/**
 * A stand-in for an app validating webhooks with the tokens its store holds: its status answer reports the token it
 * uses and, as `webhookTokenFingerprints`, the ones it validates webhooks with (the current and the previous, read
 * from the dotenv store at each request). `validatesPrevious: false` makes it ignore the previous one (an app that
 * has not reloaded its validator yet).
 */
interface WebhookApp {
  url: string;
  validatesPrevious: boolean;
  close(): Promise<void>;
}

async function webhookApp(dotenv: string): Promise<WebhookApp> {
  const app: Partial<WebhookApp> & { validatesPrevious: boolean } = { validatesPrevious: true };
  const server: Server = createServer((_request, response) => {
    void (async () => {
      const text = await readFile(dotenv, "utf8");
      const token = text.match(/^TWILIO_AUTH_TOKEN=(.*)$/m)?.[1] ?? "";
      const previous = text.match(/^TWILIO_PREVIOUS_AUTH_TOKEN=(.*)$/m)?.[1];
      const trusted = [token, ...(previous !== undefined && app.validatesPrevious ? [previous] : [])];
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify({
          tokenFingerprint: fingerprint(token),
          authenticated: true,
          webhookTokenFingerprints: trusted.map(fingerprint),
        }),
      );
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(app, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  }) as WebhookApp;
}

async function retireWorkspace(options: { lagSeconds?: number; consumersTimeoutSeconds?: number } = {}) {
  const ws = await tokenWorkspace(e2e);
  const value = { accountSid: ws.account.sid, authToken: ws.account.token };
  const awsStore = await e2e.awsStore(ws, value);
  const vaultPolicy = `rotator-retire-${Math.random().toString(16).slice(2, 10)}`;
  await setVaultPolicy(vaultPolicy, ["create", "read", "update"]);
  const token = (await vault.write("auth/token/create", { policies: [vaultPolicy], ttl: "1h" })).auth
    .client_token as string;
  const vaultStore = await e2e.vaultStore(ws, value, { token });
  const dotenv = `${ws.dir}/app.env`;
  const app = await webhookApp(dotenv);
  e2e.onTeardown(() => app.close());
  const config = await ws.tokenConfig("retire", ["app"], {
    credential: { type: "auth-token", webhookSigningLagSeconds: options.lagSeconds ?? 0 },
    stores: [{ name: "app", type: "dotenv-file", path: dotenv }, awsStore.entry, vaultStore.entry],
    consumers: [{ name: "web", type: "http", url: app.url }],
    verify: {
      newKeyTimeoutSeconds: 5,
      revokeConfirmSeconds: 2,
      consumersPollSeconds: 0.2,
      consumersTimeoutSeconds: options.consumersTimeoutSeconds ?? 10,
    },
  });
  const rw: RetireWorkspace = {
    ws,
    config,
    dotenv,
    secretId: awsStore.secretId,
    vaultPath: vaultStore.path,
    vaultPolicy,
    app,
    async held() {
      const text = await readFile(dotenv, "utf8");
      const awsValue = JSON.parse(
        (await aws.send(new GetSecretValueCommand({ SecretId: awsStore.secretId, VersionStage: "AWSCURRENT" })))
          .SecretString!,
      ) as Record<string, string>;
      const vaultValue = (await vault.read(`secret/data/${vaultStore.path}`)).data.data as Record<string, string>;
      const held = {
        dotenv: {
          token: text.match(/^TWILIO_AUTH_TOKEN=(.*)$/m)?.[1],
          previous: text.match(/^TWILIO_PREVIOUS_AUTH_TOKEN=(.*)$/m)?.[1],
        },
        aws: { token: awsValue.authToken, previous: awsValue.previousAuthToken },
        vault: { token: vaultValue.authToken, previous: vaultValue.previousAuthToken },
      };
      for (const one of Object.values(held)) {
        for (const secret of [one.token, one.previous]) {
          if (secret !== undefined && !ws.secrets.includes(secret)) ws.secrets.push(secret);
        }
      }
      return held;
    },
    async events() {
      const runs = (await readdir(`${config.stateDir}/runs`)).filter((name) => name.endsWith(".jsonl")).sort();
      const text = await readFile(`${config.stateDir}/runs/${runs.at(-1)}`, "utf8");
      return text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line));
    },
  };
  return rw;
}

async function setVaultPolicy(name: string, capabilities: string[]): Promise<void> {
  const list = capabilities.map((c) => `"${c}"`).join(", ");
  await vault.addPolicy({
    name,
    rules: [
      `path "secret/data/e2e/*" { capabilities = [${list}] }`,
      'path "secret/metadata/e2e/*" { capabilities = ["read"] }',
      'path "secret/delete/e2e/*" { capabilities = ["update"] }',
    ].join("\n"),
  });
}

/** Every store holds the new token alone; Twilio has it as the primary, and refuses the old one. */
async function expectRetiredEverywhere(rw: RetireWorkspace): Promise<string> {
  const held = await rw.held();
  const token = held.dotenv.token!;
  expect(token).not.toBe(rw.ws.account.token);
  for (const one of Object.values(held)) expect(one).toEqual({ token, previous: undefined });
  expect(await readFile(rw.dotenv, "utf8")).not.toContain("TWILIO_PREVIOUS_AUTH_TOKEN");
  expect(tokensOf(e2e.emulator, rw.ws.account.sid)).toEqual({ primary: fingerprint(token), secondary: null });
  expect(await tokenWorks(e2e.emulator, rw.ws.account.sid, rw.ws.account.token)).toBe(false);
  return token;
}

/** The events of a completed run with the retire, in the order they must come (others may come between). */
const RETIRE_ORDER = [
  "previous-kept",
  "stores-committed",
  "consumers-checked",
  "revoke-started",
  "old-token-revoked",
  "retire-started",
  "store-retired",
  "previous-retired",
  "consumers-checked",
  "stores-released",
  "run-finished",
];

function expectInOrder(events: Array<{ event: string }>, order: string[]): void {
  let at = -1;
  for (const name of order) {
    const next = events.findIndex((e, i) => i > at && e.event === name);
    expect(next, `${name} after ${order[order.indexOf(name) - 1] ?? "the start"}`).toBeGreaterThan(at);
    at = next;
  }
}

describe("an Auth Token rotation over dotenv, AWS and Vault keeps the previous token across the promote", () => {
  it("writes new + previous everywhere, promotes only once the app validates with both, then retires the previous everywhere", async () => {
    const rw = await retireWorkspace({ consumersTimeoutSeconds: 1 });
    // The app does not validate with the previous token yet: the promote must wait for it.
    rw.app.validatesPrevious = false;
    const waiting = await runCli(tokenArgs(rw.config, "rotate"), { env: rw.ws.env });
    expect(waiting.code, waiting.stderr).toBe(4);
    const waited = JSON.parse(waiting.stdout);
    expect(waited.consumers[0]).toMatchObject({ name: "web", state: "other-webhook-tokens" });
    expect(waited.consumers[0].detail).toContain(
      `does not validate webhooks with ${fingerprint(rw.ws.account.token).slice(0, 2)}…`,
    );
    expect(waited.previous).toMatchObject({ status: "kept", retiredFrom: [] });

    // Every store holds the new token with the old one beside it; Twilio still has the old one as the primary.
    const during = await rw.held();
    const newToken = during.dotenv.token!;
    expect(newToken).not.toBe(rw.ws.account.token);
    for (const one of Object.values(during)) expect(one).toEqual({ token: newToken, previous: rw.ws.account.token });
    expect(tokensOf(e2e.emulator, rw.ws.account.sid).primary).toBe(fingerprint(rw.ws.account.token));

    rw.app.validatesPrevious = true;
    const resumed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result.previous).toEqual({
      credential: `${fingerprint(rw.ws.account.token).slice(0, 2)}…${fingerprint(rw.ws.account.token).slice(-4)}`,
      status: "retired",
      retiredFrom: ["app", "aws", "vault"],
      keepSeconds: 0,
    });
    expect(await expectRetiredEverywhere(rw)).toBe(newToken);

    const events = await rw.events();
    expectInOrder(events, RETIRE_ORDER);
    // The consumer check the promote waited for saw the app validate with both tokens.
    const beforePromote = events.slice(
      0,
      events.findIndex((e) => e.event === "revoke-started"),
    );
    const lastCheck = beforePromote.filter((e) => e.event === "consumers-checked").at(-1) as unknown as {
      converged: boolean;
      results: Array<{ detail: string }>;
    };
    expect(lastCheck.converged).toBe(true);
    expect(lastCheck.results[0]!.detail).toContain("validates webhooks with");
    expect(lastCheck.results[0]!.detail.split(",").length).toBe(2);
    expect(events.filter((e) => e.event === "store-retired").map((e) => e.store)).toEqual(["app", "aws", "vault"]);

    const status = await runCli(tokenArgs(rw.config, "status"), { env: rw.ws.env });
    expect(JSON.parse(status.stdout).runs.at(-1).previous).toMatch(/is retired from every store$/);
  });

  it("plan lists the retire of each store after the promote, and what an emergency's at-once retire costs", async () => {
    const rw = await retireWorkspace({ lagSeconds: 30 });
    const plan = JSON.parse((await runCli(tokenArgs(rw.config, "plan"), { env: rw.ws.env })).stdout);
    const retires = plan.actions.filter((a: { action: string }) => a.action === "retire");
    expect(retires.map((a: { target: string }) => a.target)).toEqual(["app", "aws", "vault"]);
    expect(retires[0].description).toContain("30 s after the promote");
    const emergency = JSON.parse(
      (await runCli(tokenArgs(rw.config, "plan", "--emergency"), { env: rw.ws.env })).stdout,
    );
    expect(emergency.actions.find((a: { action: string }) => a.action === "retire").description).toContain(
      "webhooks Twilio signed with the old token before its propagation ends may be rejected",
    );
  });
});

describe("kill -9 after the promote or inside the retire, then resume", () => {
  const points = [
    "after-promote",
    "after-retire-prepare:app",
    "after-retire:app",
    "after-retire:aws",
    "after-retire-commit",
  ];
  for (const point of points) {
    it(`killed at ${point}: resume retires the previous token from every store, the journal in order`, async () => {
      const rw = await retireWorkspace({ lagSeconds: point === "after-promote" ? 2 : 0 });
      const killed = await runCli(tokenArgs(rw.config, "rotate"), { env: { ...rw.ws.env, ROTATOR_FAILPOINT: point } });
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      // Promoted: no store holds the dead old token as its current one, whatever the retire got to.
      for (const one of Object.values(await rw.held())) expect(one.token).not.toBe(rw.ws.account.token);
      const status = JSON.parse((await runCli(tokenArgs(rw.config, "status"), { env: rw.ws.env })).stdout);
      if (point !== "after-retire-commit") expect(status.runs.at(-1).previous).toContain("`rotator resume` retires it");

      const resumed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout).previous).toMatchObject({ status: "retired" });
      await expectRetiredEverywhere(rw);
      const events = await rw.events();
      expectInOrder(events, RETIRE_ORDER);
      const revoked = Date.parse(events.find((e) => e.event === "old-token-revoked")!.ts);
      const retired = Date.parse(events.find((e) => e.event === "retire-started")!.ts);
      // The signing lag counts from the journaled promote, across the crash.
      if (point === "after-promote") expect(retired - revoked).toBeGreaterThanOrEqual(2000);
    });
  }
});

describe("interrupted while the stores keep the previous token after the promote", () => {
  it("stops (exit 130) saying resume retires it; resume waits the rest of the signing lag and does", async () => {
    const rw = await retireWorkspace({ lagSeconds: 5 });
    const run = startCli(tokenArgs(rw.config, "rotate"), { env: rw.ws.env });
    await until(async () => run.stderr().includes("keeping the old token"), 30_000);
    run.child.kill("SIGINT");
    const stopped = await run.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    const result = JSON.parse(stopped.stdout);
    expect(result.status).toBe("interrupted");
    expect(result.next).toMatch(/`rotator resume` retires the previous token/);
    expect(result.previous).toMatchObject({ status: "kept" });
    const held = await rw.held();
    for (const one of Object.values(held)) expect(one.previous).toBe(rw.ws.account.token);

    const resumed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectRetiredEverywhere(rw);
    const events = await rw.events();
    const revoked = Date.parse(events.find((e) => e.event === "old-token-revoked")!.ts);
    expect(Date.parse(events.find((e) => e.event === "retire-started")!.ts) - revoked).toBeGreaterThanOrEqual(5000);
  });
});

describe("a store failing during the retire write", () => {
  it("puts the previous token back where it was retired, says resume retires it, and resume does once the store works", async () => {
    const rw = await retireWorkspace({ consumersTimeoutSeconds: 1 });
    rw.app.validatesPrevious = false;
    const waiting = await runCli(tokenArgs(rw.config, "rotate"), { env: rw.ws.env });
    expect(waiting.code, waiting.stderr).toBe(4);
    // Vault refuses writes from now on (its policy narrowed to reading), after the first write landed.
    await setVaultPolicy(rw.vaultPolicy, ["read"]);
    rw.app.validatesPrevious = true;

    const failed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
    expect(failed.code, failed.stderr).toBe(7);
    const result = JSON.parse(failed.stdout);
    expect(result.status).toBe("failed");
    expect(result.error).toContain("retiring the previous token");
    expect(result.error).toContain("vault");
    expect(result.next).toMatch(/`rotator resume` retires the previous token/);
    expect(result.previous).toMatchObject({ status: "kept", retiredFrom: [] });
    // Promoted, and consistent: every store holds the new token as its current one, with the previous beside it.
    const held = await rw.held();
    const newToken = held.dotenv.token!;
    for (const one of Object.values(held)) expect(one).toEqual({ token: newToken, previous: rw.ws.account.token });
    expect(tokensOf(e2e.emulator, rw.ws.account.sid).primary).toBe(fingerprint(newToken));
    const events = await rw.events();
    expect(events.filter((e) => e.event === "store-retire-undone").map((e) => e.store)).toEqual(["aws", "app"]);
    expect(events.at(-1)).toMatchObject({ event: "run-finished", status: "failed" });

    await setVaultPolicy(rw.vaultPolicy, ["create", "read", "update"]);
    const resumed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await expectRetiredEverywhere(rw)).toBe(newToken);
  });
});

describe("a store failing during the retire write, and a kill -9 while the others are undone", () => {
  it("resume retires the previous token from every store, whatever the undo got to", async () => {
    const rw = await retireWorkspace({ consumersTimeoutSeconds: 1 });
    rw.app.validatesPrevious = false;
    expect((await runCli(tokenArgs(rw.config, "rotate"), { env: rw.ws.env })).code).toBe(4);
    await setVaultPolicy(rw.vaultPolicy, ["read"]);
    rw.app.validatesPrevious = true;
    const killed = await runCli(tokenArgs(rw.config, "resume"), {
      env: { ...rw.ws.env, ROTATOR_FAILPOINT: "after-retire-undo:aws" },
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    // AWS got the previous token back (the undo landed, not journaled); app is still retired (its undo never ran).
    const held = await rw.held();
    expect(held.aws.previous).toBe(rw.ws.account.token);
    expect(held.dotenv.previous).toBeUndefined();

    await setVaultPolicy(rw.vaultPolicy, ["create", "read", "update"]);
    const resumed = await runCli(tokenArgs(rw.config, "resume"), { env: rw.ws.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectRetiredEverywhere(rw);
    expectInOrder(await rw.events(), RETIRE_ORDER);
  });
});

describe("an emergency", () => {
  it("retires the previous token right after the promote, and says what that costs", async () => {
    const rw = await retireWorkspace({ lagSeconds: 600 });
    const run = await runCli(tokenArgs(rw.config, "rotate", "--emergency", "--reason", "leaked"), {
      env: rw.ws.env,
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.previous).toMatchObject({
      status: "retired",
      keepSeconds: 0,
      cost: "webhooks Twilio signed with the old token before its propagation ends may be rejected",
    });
    await expectRetiredEverywhere(rw);
    expect((await rw.events()).find((e) => e.event === "previous-kept")).toMatchObject({ keepSeconds: 0 });
  });
});

describe("an API-key rotation", () => {
  it("is unchanged: nothing kept beside the new key, no retire step, no previous in the result", async () => {
    const ws = await e2e.workspace(1);
    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.previous).toBeUndefined();
    const events = (await journalRecords(ws)).map((record) => record.event);
    for (const event of ["previous-kept", "retire-started", "store-retired", "previous-retired"]) {
      expect(events).not.toContain(event);
    }
    expect(events.slice(events.indexOf("old-key-revoked"))).toEqual([
      "old-key-revoked",
      "stores-released",
      "run-finished",
    ]);
    const plan = JSON.parse((await runCli(cliArgs(ws, "plan"), { env: ws.env })).stdout);
    expect(plan.actions.map((a: { action: string }) => a.action)).not.toContain("retire");
  });
});
