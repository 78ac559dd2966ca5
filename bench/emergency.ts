/**
 * Emergency rotation speed (issue #9): `rotate --emergency --revoke-immediately` over four stores (two dotenv
 * files, Vault on OpenBao, AWS Secrets Manager on moto, all local) against the Twilio emulator, for both
 * credential types. Printed, from one run (the median of several):
 * - the wall time from the start of the command to "old credential refused" (Twilio answering 20003);
 * - its ratio to the sum of the run's HTTP round trips, each timed where Node sends and receives it
 *   (diagnostics_channel), so the ratio says how much of the time is rotator's own rather than the servers'.
 * Goal (issue #9): under 1 s on the development machines.
 *
 * Run: npm run bench:emergency (starts moto and OpenBao like the integration tests do).
 */
import { subscribe } from "node:diagnostics_channel";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { rotate } from "../src/commands/rotate/run.js";
import { loadConfig } from "../src/config/load.js";
import { startTwilioEmulator } from "../src/emulator/index.js";
import { buildContext, closeContext } from "../src/engine/context.js";
import { silentReporter } from "../src/engine/reporter.js";
import { createTwilioClient } from "../src/twilio/client.js";
import { awsClient, startServers, vaultClient } from "../test/harness/servers.js";

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

const servers = await startServers(["aws", "vault"]);
const emulator = await startTwilioEmulator({ port: 0 });
const env: Record<string, string | undefined> = {
  ...process.env,
  AWS_ACCESS_KEY_ID: servers.endpoints.aws.accessKeyId,
  AWS_SECRET_ACCESS_KEY: servers.endpoints.aws.secretAccessKey,
  BENCH_VAULT_TOKEN: servers.endpoints.vault.token,
};

interface Sample {
  refusedMs: number;
  roundTripsMs: number;
  roundTrips: number;
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
  const reporter = {
    ...silentReporter,
    info(text: string) {
      if (text.includes("Twilio now refuses it")) refusedAt ??= performance.now();
    },
  };
  roundTripsMs = 0;
  roundTrips = 0;
  const start = performance.now();
  const loaded = await loadConfig(configPath, runEnv);
  const context = await buildContext(loaded, { stateDir: join(dir, "state"), reporter, env: runEnv });
  const result = await rotate(context, { emergency: true, revokeImmediately: true, reason: "bench" });
  const sample = { refusedMs: (refusedAt ?? Number.NaN) - start, roundTripsMs, roundTrips };
  await closeContext(context);
  await rm(dir, { recursive: true, force: true });
  if (result.status !== "completed" || refusedAt === undefined) {
    throw new Error(`bench run ended ${result.status} without the old credential refused: ${result.error}`);
  }
  return sample;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  await emergencyRun("api-key", -1); // warm-up: module loading and JIT, not measured
  for (const type of ["api-key", "auth-token"] as const) {
    const samples: Sample[] = [];
    for (let i = 0; i < REPETITIONS; i++) samples.push(await emergencyRun(type, i));
    const refused = median(samples.map((s) => s.refusedMs));
    const trips = median(samples.map((s) => s.roundTripsMs));
    const count = median(samples.map((s) => s.roundTrips));
    console.log(
      `emergency --revoke-immediately, ${type}, 4 stores (2 dotenv, Vault, AWS): old credential refused after ${refused.toFixed(0)} ms ` +
        `(${(refused / 1000).toFixed(2)} s; goal < 1 s), ${(refused / trips).toFixed(2)}x the sum of its ${count} HTTP round trips (${trips.toFixed(0)} ms)`,
    );
  }
} finally {
  await emulator.close();
  await servers.stop();
}
process.exit(0);
