/**
 * What an app pays for `rotator/consumer` (issue #21, point 6), as ratios from one run:
 *
 * - installed size: a fresh app depending on `twilio` alone against one depending on rotator (its packed
 *   tarball, which brings `twilio`) and reading a dotenv file, each `npm install`ed from npm's cache; bytes of
 *   files (apparent) and disk blocks. Goal: at most 1.5x.
 * - per call: a Messages list against the Twilio emulator (in this process, on 127.0.0.1), made with the
 *   official client directly, and through `withClient` of a TwilioCredentials reading a dotenv file (the same
 *   client inside). Interleaved rounds, so load from elsewhere falls on both; the median per-call time of each,
 *   their difference, and the interquartile range of the direct rounds (the noise the difference is held to).
 *   Goal: the difference within that noise.
 *
 * Run: npm run bench -- consumer (builds first).
 */
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { TwilioCredentials } from "../src/consumer/index.js";
import { startTwilioEmulator } from "../src/emulator/index.js";
import { createTwilioClient } from "../src/twilio/client.js";
import { packageRoot } from "../src/util/package-root.js";

const root = packageRoot();

/** Sum of file sizes and of disk blocks under `dir` (symlinks counted as themselves). */
function sizeOf(dir: string): { bytes: number; disk: number } {
  let bytes = 0;
  let disk = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const stat = lstatSync(path);
    disk += stat.blocks * 512;
    if (entry.isDirectory()) {
      const inner = sizeOf(path);
      bytes += inner.bytes;
      disk += inner.disk;
    } else bytes += stat.size;
  }
  return { bytes, disk };
}

/** The biggest top-level packages of a node_modules folder, by bytes. */
function biggest(modules: string, count: number): string {
  const packages = readdirSync(modules)
    .filter((name) => !name.startsWith("."))
    .flatMap((name) =>
      name.startsWith("@") ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name],
    )
    .map((name) => ({ name, bytes: sizeOf(join(modules, name)).bytes }))
    .sort((a, b) => b.bytes - a.bytes);
  return packages
    .slice(0, count)
    .map((item) => `${item.name} ${mb(item.bytes)}`)
    .join(", ");
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function freshApp(dir: string, name: string, dependency: string): string {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), `${JSON.stringify({ name, version: "1.0.0", private: true })}\n`);
  execFileSync(
    "npm",
    ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", dependency],
    { cwd: app, stdio: "ignore" },
  );
  return join(app, "node_modules");
}

async function installedSize(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "rotator-bench-consumer-"));
  try {
    execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: root, stdio: "ignore" });
    const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))!;
    // The version rotator depends on: the two apps hold the same twilio.
    const twilioVersion = (
      JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: { twilio: string } }
    ).dependencies.twilio;
    const bare = freshApp(dir, "twilio-only", `twilio@${twilioVersion}`);
    const withRotator = freshApp(dir, "with-rotator", join(dir, tarball));
    const [a, b] = [sizeOf(bare), sizeOf(withRotator)];
    return [
      "installed size of a fresh app's node_modules (npm install from npm's cache):",
      `  twilio@${twilioVersion} alone          ${mb(a.bytes)} of files, ${mb(a.disk)} on disk`,
      `  rotator (dotenv store)     ${mb(b.bytes)} of files, ${mb(b.disk)} on disk`,
      `  ratio                      ${(b.bytes / a.bytes).toFixed(2)}x files, ${(b.disk / a.disk).toFixed(2)}x disk (goal: at most 1.5x)`,
      `  biggest with rotator: ${biggest(withRotator, 4)}`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function perCall(options: { rounds: number; callsPerRound: number }): Promise<string[]> {
  const emulator = await startTwilioEmulator({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), "rotator-bench-calls-"));
  try {
    const admin = createTwilioClient({
      accountSid: emulator.accountSid,
      username: emulator.accountSid,
      password: emulator.authToken,
      baseUrl: emulator.baseUrl,
    });
    const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "bench" });
    const store = join(dir, "twilio.env");
    writeFileSync(
      store,
      `TWILIO_ACCOUNT_SID=${emulator.accountSid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
      { mode: 0o600 },
    );
    const direct = createTwilioClient({
      accountSid: emulator.accountSid,
      username: key.sid,
      password: key.secret,
      baseUrl: emulator.baseUrl,
    });
    const credentials = new TwilioCredentials({
      store: { name: "app", type: "dotenv-file", path: store },
      twilioBaseUrl: emulator.baseUrl,
    });
    const list = (client: typeof direct) => client.api.v2010.accounts(emulator.accountSid).messages.list({ limit: 1 });
    const timed = async (call: () => Promise<unknown>) => {
      const started = performance.now();
      for (let i = 0; i < options.callsPerRound; i++) await call();
      return ((performance.now() - started) / options.callsPerRound) * 1000;
    };
    const callDirect = () => list(direct);
    const callLibrary = () => credentials.withClient(list);
    // Warm-up: the first read of the store, the client's and the emulator's first requests, the JIT.
    await timed(callDirect);
    await timed(callLibrary);
    const directRounds: number[] = [];
    const libraryRounds: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which goes first, so neither always follows the other's garbage.
      if (round % 2 === 0) {
        directRounds.push(await timed(callDirect));
        libraryRounds.push(await timed(callLibrary));
      } else {
        libraryRounds.push(await timed(callLibrary));
        directRounds.push(await timed(callDirect));
      }
    }
    await credentials.close();
    const [a, b] = [median(directRounds), median(libraryRounds)];
    // The noise: how far apart the middle half of the direct rounds lie (outliers of a busy machine aside).
    const sorted = [...directRounds].sort((x, y) => x - y);
    const spread = sorted[Math.floor((sorted.length * 3) / 4)]! - sorted[Math.floor(sorted.length / 4)]!;
    return [
      `per call (Messages list on the emulator; ${options.rounds} rounds of ${options.callsPerRound} calls, median per call):`,
      `  official client directly   ${a.toFixed(0)} µs`,
      `  through withClient         ${b.toFixed(0)} µs`,
      `  difference                 ${(b - a).toFixed(0)} µs (${(b / a).toFixed(3)}x); noise (interquartile range of the direct rounds) ${spread.toFixed(0)} µs (goal: the difference within it)`,
    ];
  } finally {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

export async function consumerBench(): Promise<string[]> {
  const loadBefore = load();
  const lines = [...(await installedSize()), ...(await perCall({ rounds: 15, callsPerRound: 200 }))];
  return [
    `rotator/consumer (${cpus().length} cores, load average ${loadBefore} before, ${load()} after):`,
    ...lines.map((line) => `  ${line}`),
  ];
}
