/**
 * Benchmarks, printed as ratios from one run (machines differ, and other work shares them; ratios are what
 * to compare between commits). Nothing here asserts a time: tests never do.
 * - startup.ts: whole-process wall time of `--help`, `version` and `rotate --sandbox` against `node -e 0`;
 * - rotation.ts: the engine's per-store cost and RSS growth, in-process;
 * - consumer.ts: what an app pays for rotator/consumer: installed size against twilio alone, per-call overhead;
 * - webhooks.ts: webhooks rejected during an Auth Token rotation, rotator against a promote-first rotation.
 * Run: npm run bench (builds first), or `npm run bench -- startup` for one of them.
 */
const BENCHES = {
  startup: async () => (await import("./startup.js")).startupBench(),
  rotation: async () => (await import("./rotation.js")).rotationBench(),
  consumer: async () => (await import("./consumer.js")).consumerBench(),
  webhooks: async () => (await import("./webhooks.js")).webhooksBench(),
} as const;

type BenchName = keyof typeof BENCHES;
const isBenchName = (name: string): name is BenchName => Object.hasOwn(BENCHES, name);

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !isBenchName(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}\n`);
  process.exit(2);
}
// Start-up first: it measures separate processes, before this one has loaded the engine for the other.
const names = asked.length > 0 ? asked.filter(isBenchName) : (Object.keys(BENCHES) as BenchName[]);
for (const name of names) {
  process.stdout.write(`${(await BENCHES[name]()).join("\n")}\n\n`);
}
