/**
 * Emergency rotation speed (issues #9 and #21): `rotate --emergency --revoke-immediately`, printed from one run
 * (medians of several), two ways:
 *
 * 1. From process start, as an operator sees it: `rotator rotate --emergency --revoke-immediately --yes` run as
 *    a process of its own (the built CLI, as installed) over four stores, one of each kind (a dotenv file, Vault
 *    on OpenBao, AWS Secrets Manager on moto, Azure Key Vault on the project's emulator), with two consumers, one
 *    of them down. Timed from the spawn to the line saying Twilio refuses the old key (20003); printed beside
 *    a bare `node -e 0`, as a ratio. Goal (#21): at most 1 s on the development machine.
 * 2. In-process, after a warm-up (no start-up, modules loaded): the engine's own time to "old credential
 *    refused" over four stores (two dotenv files, Vault, AWS), for both credential types, and its ratio to the
 *    sum of the run's HTTP round trips until then, each timed where Node sends and receives it
 *    (diagnostics_channel), so the ratio says how much of the time is rotator's own rather than the servers';
 *    and the time to the run's end, which for an Auth Token includes the retire write (an emergency retires the
 *    leaked token from every store right after the promote).
 *
 * Run: npm run bench:emergency (builds first; starts moto, OpenBao and the Key Vault emulator like the tests).
 */
import { spawn } from "node:child_process";
import { subscribe } from "node:diagnostics_channel";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { loadConfig } from "../src/config/load.js";
import { startTwilioEmulator } from "../src/emulator/index.js";
import { buildContext, closeContext } from "../src/engine/context.js";
import { rotate } from "../src/engine/index.js";
import { silentReporter } from "../src/engine/reporter.js";
import { createTwilioClient } from "../src/twilio/client.js";
import { packageRoot } from "../src/util/package-root.js";
import { awsClient, azureSecretClient, freePort, startServers, vaultClient } from "../test/harness/servers.js";

// The pinned AWS SDK supports Node 20; its notice about later releases is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const REPETITIONS = 5;

// Every HTTP exchange the process makes, timed from the request's start to the end of its response.
const started = new WeakMap<object, number>();
let roundTripsMs = 0;
let roundTrips = 0;
subscribe("http.client.request.start", (message) => {
  started.set((message as { request: object }).request, performance.now());
});
subscribe("http.client.response.finish", (message) => {
  const { request } = message as { request: object };
  const at = started.get(request);
  if (at === undefined) return;
  roundTripsMs += performance.now() - at;
  roundTrips += 1;
  started.delete(request);
});

const servers = await startServers(["aws", "vault", "azure"]);
const emulator = await startTwilioEmulator({ port: 0 });
const env: Record<string, string | undefined> = {
  ...process.env,
  AWS_ACCESS_KEY_ID: servers.endpoints.aws.accessKeyId,
  AWS_SECRET_ACCESS_KEY: servers.endpoints.aws.secretAccessKey,
  BENCH_VAULT_TOKEN: servers.endpoints.vault.token,
  BENCH_AZURE_SECRET: servers.endpoints.azure.clientSecret,
  NODE_EXTRA_CA_CERTS: servers.endpoints.azure.caFile,
  NO_COLOR: "1",
};

interface Sample {
  refusedMs: number;
  /** The round trips until the old credential was refused (what `refusedMs` is compared with). */
  roundTripsMs: number;
  roundTrips: number;
  /** To the end of the run: for an Auth Token, the retire write (the previous token out of every store) too. */
  completedMs: number;
  allRoundTrips: number;
}

async function emergencyRun(type: "api-key" | "auth-token", index: number): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-bench-emergency-"));
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: `bench-${type}-` });
  const account = sub!.sid;
  let value: Record<string, string>;
  let dotenv: string;
  if (type === "api-key") {
    const admin = createTwilioClient({
      accountSid: account,
      username: account,
      password: sub!.authToken,
      baseUrl: emulator.baseUrl,
    });
    const key = await admin.api.v2010.accounts(account).newKeys.create({ friendlyName: "bench" });
    value = { accountSid: account, apiKeySid: key.sid, apiKeySecret: key.secret };
    dotenv = `TWILIO_ACCOUNT_SID=${account}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`;
  } else {
    value = { accountSid: account, authToken: sub!.authToken };
    dotenv = `TWILIO_ACCOUNT_SID=${account}\nTWILIO_AUTH_TOKEN=${sub!.authToken}\n`;
  }
  const secretPath = `bench/emergency-${type}-${index}-${Date.now()}`;
  await vaultClient(servers.endpoints).write(`secret/data/${secretPath}`, { data: value });
  const aws = awsClient(servers.endpoints);
  await aws.send(new CreateSecretCommand({ Name: secretPath, SecretString: JSON.stringify(value) }));
  aws.destroy();
  for (const name of ["a", "b"]) await writeFile(join(dir, `${name}.env`), dotenv, { mode: 0o600 });
  const configPath = join(dir, "rotator.yaml");
  await writeFile(
    configPath,
    [
      "version: 1",
      `twilio: { accountSid: ${account}, admin: { authToken: { env: BENCH_ADMIN } }, baseUrl: "${emulator.baseUrl}" }`,
      `credential: { type: ${type} }`,
      "stores:",
      "  - { name: a, type: dotenv-file, path: a.env }",
      "  - { name: b, type: dotenv-file, path: b.env }",
      `  - { name: vault, type: vault-kv2, address: "${servers.endpoints.vault.address}", mount: secret, path: ${secretPath}, auth: { method: token, token: { env: BENCH_VAULT_TOKEN } } }`,
      `  - { name: aws, type: aws-secrets-manager, secretId: ${secretPath}, region: ${servers.endpoints.aws.region}, endpoint: "${servers.endpoints.aws.endpoint}" }`,
      "verify: { newKeyTimeoutSeconds: 10, revokeConfirmSeconds: 5 }",
      "",
    ].join("\n"),
  );
  const runEnv = { ...env, BENCH_ADMIN: sub!.authToken };
  let refusedAt: number | undefined;
  let tripsAtRefused = { ms: 0, count: 0 };
  const reporter = {
    ...silentReporter,
    info(text: string) {
      if (refusedAt !== undefined || !text.includes("Twilio now refuses it")) return;
      refusedAt = performance.now();
      tripsAtRefused = { ms: roundTripsMs, count: roundTrips };
    },
  };
  roundTripsMs = 0;
  roundTrips = 0;
  const start = performance.now();
  const loaded = await loadConfig(configPath, runEnv);
  const context = await buildContext(loaded, { stateDir: join(dir, "state"), reporter, env: runEnv });
  const result = await rotate(context, { emergency: true, revokeImmediately: true, reason: "bench" });
  const sample = {
    refusedMs: (refusedAt ?? Number.NaN) - start,
    roundTripsMs: tripsAtRefused.ms,
    roundTrips: tripsAtRefused.count,
    completedMs: performance.now() - start,
    allRoundTrips: roundTrips,
  };
  await closeContext(context);
  await rm(dir, { recursive: true, force: true });
  if (result.status !== "completed" || refusedAt === undefined) {
    throw new Error(`bench run ended ${result.status} without the old credential refused: ${result.error}`);
  }
  return sample;
}

/**
 * One emergency as an operator runs it: the CLI as a process over one store of each kind, one consumer up and
 * one down. Milliseconds from the spawn to the line saying Twilio refuses the old key.
 */
async function emergencyFromProcessStart(index: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-bench-process-"));
  const [sub] = emulator.createSubaccounts(1, { friendlyNamePrefix: "bench-process-" });
  const account = sub!.sid;
  const key = emulator.createStandardKey(account, { friendlyName: "bench" });
  const value = { accountSid: account, apiKeySid: key.sid, apiKeySecret: key.secret };
  const secretPath = `bench/process-${index}-${Date.now()}`;
  await vaultClient(servers.endpoints).write(`secret/data/${secretPath}`, { data: value });
  const aws = awsClient(servers.endpoints);
  await aws.send(new CreateSecretCommand({ Name: secretPath, SecretString: JSON.stringify(value) }));
  aws.destroy();
  const secretName = `bench-process-${index}-${Date.now()}`;
  await azureSecretClient(servers.endpoints).setSecret(secretName, JSON.stringify(value), {
    contentType: "application/json",
  });
  const dotenv = join(dir, "app.env");
  await writeFile(
    dotenv,
    `TWILIO_ACCOUNT_SID=${account}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
    { mode: 0o600 },
  );
  // The consumer that is up reports what its file holds; the other one's port has nobody listening.
  const up = createServer((_req, res) => {
    readFile(dotenv, "utf8").then((text) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keySid: /^TWILIO_API_KEY=(\S+)$/m.exec(text)?.[1], authenticated: true }));
    });
  });
  await new Promise<void>((resolve) => up.listen(0, "127.0.0.1", resolve));
  const upPort = (up.address() as { port: number }).port;
  const downPort = await freePort();
  const { azure } = servers.endpoints;
  const configPath = join(dir, "rotator.yaml");
  await writeFile(
    configPath,
    [
      "version: 1",
      `twilio: { accountSid: ${account}, admin: { authToken: { env: BENCH_ADMIN } }, baseUrl: "${emulator.baseUrl}" }`,
      "credential: { type: api-key }",
      "stores:",
      "  - { name: app, type: dotenv-file, path: app.env }",
      `  - { name: vault, type: vault-kv2, address: "${servers.endpoints.vault.address}", mount: secret, path: ${secretPath}, auth: { method: token, token: { env: BENCH_VAULT_TOKEN } } }`,
      `  - { name: aws, type: aws-secrets-manager, secretId: ${secretPath}, region: ${servers.endpoints.aws.region}, endpoint: "${servers.endpoints.aws.endpoint}" }`,
      `  - { name: azure, type: azure-key-vault, vaultUrl: "${azure.vaultUrl}", secretName: ${secretName}, disableChallengeResourceVerification: true, auth: { method: client-secret, tenantId: ${azure.tenantId}, clientId: ${azure.clientId}, clientSecret: { env: BENCH_AZURE_SECRET }, authorityHost: "${azure.authorityHost}" } }`,
      "consumers:",
      `  - { name: up, type: http, url: "http://127.0.0.1:${upPort}/status" }`,
      `  - { name: down, type: http, url: "http://127.0.0.1:${downPort}/status", timeoutSeconds: 1 }`,
      "verify: { newKeyTimeoutSeconds: 10, revokeConfirmSeconds: 5 }",
      "",
    ].join("\n"),
  );
  const args = [join(packageRoot(), "bin", "rotator.js"), "rotate", "--emergency", "--revoke-immediately"];
  args.push("--reason", "bench", "--yes", "--config", configPath, "--state-dir", join(dir, "state"));
  const start = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...env, BENCH_ADMIN: emulator.primaryAuthToken(account) } as NodeJS.ProcessEnv,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  let refusedAt: number | undefined;
  const timeline: string[] = [];
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    for (const line of String(chunk).split("\n").filter(Boolean)) {
      timeline.push(`${(performance.now() - start).toFixed(0).padStart(6)} ms  ${line}`);
    }
    if (refusedAt === undefined && stderr.includes("Twilio now refuses it")) refusedAt = performance.now();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  up.close();
  await rm(dir, { recursive: true, force: true });
  if (code !== 0 || refusedAt === undefined) throw new Error(`the emergency ended exit ${code}:\n${stderr}`);
  // BENCH_TIMELINE=1: when each progress line of the run reached this process, to see where the time goes.
  if (process.env.BENCH_TIMELINE) console.log(timeline.join("\n"));
  return refusedAt - start;
}

/** Milliseconds a bare `node -e 0` takes, spawn to exit: what any process start costs here. */
async function bareNode(): Promise<number> {
  const start = performance.now();
  await new Promise((resolve) => spawn(process.execPath, ["-e", "0"], { stdio: "ignore" }).on("close", resolve));
  return performance.now() - start;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  const node: number[] = [];
  const processRuns: number[] = [];
  await emergencyFromProcessStart(-1); // warm-up: the page cache, not measured
  for (let i = 0; i < REPETITIONS; i++) {
    node.push(await bareNode());
    processRuns.push(await emergencyFromProcessStart(i));
  }
  const refused = median(processRuns);
  console.log(
    `from process start, emergency --revoke-immediately, api-key, 4 stores (dotenv, Vault, AWS, Azure), 2 consumers (1 down): ` +
      `old key refused after ${refused.toFixed(0)} ms (${(refused / 1000).toFixed(2)} s; goal <= 1 s; ` +
      `fastest-slowest ${Math.min(...processRuns).toFixed(0)}-${Math.max(...processRuns).toFixed(0)} ms), ` +
      `${(refused / median(node)).toFixed(1)}x a bare node -e 0 (${median(node).toFixed(0)} ms)`,
  );

  await emergencyRun("api-key", -1); // warm-up: module loading and JIT, not measured
  for (const type of ["api-key", "auth-token"] as const) {
    const samples: Sample[] = [];
    for (let i = 0; i < REPETITIONS; i++) samples.push(await emergencyRun(type, i));
    const refused = median(samples.map((s) => s.refusedMs));
    const trips = median(samples.map((s) => s.roundTripsMs));
    const count = median(samples.map((s) => s.roundTrips));
    const completed = median(samples.map((s) => s.completedMs));
    const allCount = median(samples.map((s) => s.allRoundTrips));
    console.log(
      `emergency --revoke-immediately, ${type}, 4 stores (2 dotenv, Vault, AWS): old credential refused after ${refused.toFixed(0)} ms ` +
        `(${(refused / 1000).toFixed(2)} s; goal < 1 s), ${(refused / trips).toFixed(2)}x the sum of its ${count} HTTP round trips until then (${trips.toFixed(0)} ms); ` +
        `run complete after ${completed.toFixed(0)} ms (${allCount} round trips${type === "auth-token" ? ", with the previous token retired from every store" : ""})`,
    );
  }
} finally {
  await emulator.close();
  await servers.stop();
}
process.exit(0);
