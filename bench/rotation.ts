/**
 * The engine's own cost, in-process (part of `npm run bench`: see run.ts):
 * - how a rotation's wall time grows with the number of stores (dotenv files, so the store itself is cheap
 *   and the engine's own per-store cost — journal fsyncs, read-back, rollback records — is what shows);
 * - peak RSS growth over the run.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.js";
import { startTwilioEmulator, type TwilioEmulator } from "../src/emulator/index.js";
import { buildContext, closeContext } from "../src/engine/context.js";
import { rotate } from "../src/engine/index.js";
import { silentReporter } from "../src/engine/reporter.js";
import { createTwilioClient, type TwilioClient } from "../src/twilio/client.js";

async function rotationMs(emulator: TwilioEmulator, admin: TwilioClient, stores: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-bench-"));
  const key = await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: "bench" });
  const entries: string[] = [];
  for (let i = 0; i < stores; i++) {
    const path = join(dir, `s${i}.env`);
    await writeFile(
      path,
      `TWILIO_ACCOUNT_SID=${emulator.accountSid}\nTWILIO_API_KEY=${key.sid}\nTWILIO_API_SECRET=${key.secret}\n`,
      {
        mode: 0o600,
      },
    );
    entries.push(`  - { name: s${i}, type: dotenv-file, path: ${path} }`);
  }
  const configPath = join(dir, "rotator.yaml");
  await writeFile(
    configPath,
    `version: 1\ntwilio: { accountSid: ${emulator.accountSid}, admin: { authToken: { env: T } }, baseUrl: "${emulator.baseUrl}" }\ncredential: { type: api-key }\nstores:\n${entries.join("\n")}\n`,
  );
  const loaded = await loadConfig(configPath, { T: emulator.authToken });
  const context = await buildContext(loaded, { stateDir: join(dir, "state"), reporter: silentReporter, env: {} });
  const started = performance.now();
  const result = await rotate(context);
  const elapsed = performance.now() - started;
  if (result.status !== "completed") throw new Error(`bench rotation ended ${result.status}: ${result.error}`);
  await closeContext(context);
  await rm(dir, { recursive: true, force: true });
  return elapsed;
}

/** Lines to print: the per-store growth of a rotation's wall time, and RSS growth. */
export async function rotationBench(): Promise<string[]> {
  const emulator = await startTwilioEmulator({ port: 0 });
  const admin = createTwilioClient({
    accountSid: emulator.accountSid,
    username: emulator.accountSid,
    password: emulator.authToken,
    baseUrl: emulator.baseUrl,
  });

  const rssBefore = process.memoryUsage().rss;
  await rotationMs(emulator, admin, 1); // warm-up: module loading and JIT, not measured
  const median = async (stores: number) => {
    const runs = [
      await rotationMs(emulator, admin, stores),
      await rotationMs(emulator, admin, stores),
      await rotationMs(emulator, admin, stores),
    ].sort((a, b) => a - b);
    return runs[1]!;
  };
  const one = await median(1);
  const sixteen = await median(16);
  const rssAfter = process.memoryUsage().rss;
  await emulator.close();

  const perStore = (sixteen - one) / 15;
  return [
    `rotation, 1 store:   ${one.toFixed(1)} ms (median of 3)`,
    `rotation, 16 stores: ${sixteen.toFixed(1)} ms (median of 3)`,
    `ratio 16 stores / 1 store: ${(sixteen / one).toFixed(2)}x  (linear would be at most 16x)`,
    `each extra store adds ${perStore.toFixed(1)} ms = ${(perStore / one).toFixed(2)}x a one-store rotation`,
    `RSS growth over ${1 + 6} rotations: ${((rssAfter - rssBefore) / 1024 / 1024).toFixed(1)} MiB (ratio ${(rssAfter / rssBefore).toFixed(2)}x)`,
  ];
}
