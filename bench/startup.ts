/**
 * Start-up, as a user pays it: whole-process wall time of the built CLI (bin/rotator.js, spawn to exit),
 * as a ratio to a bare `node -e 0` on the same machine in the same run (part of `npm run bench`: see
 * run.ts). `rotate --sandbox` includes its three app processes: rotator stops them and waits for them to
 * exit before it does.
 *
 * The commands are run in interleaved rounds (one of each per round) so that a burst of load from elsewhere
 * on the machine spreads over all of them rather than skewing one; each time printed is the median of its
 * rounds. Goals (issue #7): `--help` at most 2.5x node's bare start, `rotate --sandbox` at most 1.5 s.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../bin/rotator.js", import.meta.url));
const BUILT = fileURLToPath(new URL("../dist/bundle/main.js", import.meta.url));

interface Subject {
  label: string;
  args: string[];
  /** How many of the rounds run it (a sandbox rotation takes a second or two; the rest tens of ms). */
  every?: number;
}

const SUBJECTS: Subject[] = [
  { label: "node -e 0", args: ["-e", "0"] },
  { label: "rotator --help", args: [CLI, "--help"] },
  { label: "rotator version", args: [CLI, "version"] },
  { label: "rotator rotate --sandbox", args: [CLI, "rotate", "--sandbox", "--json"], every: 3 },
];

/** Wall time of one whole process, spawn to exit; throws unless it exits 0. */
function wallMs(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ROTATOR_FAILPOINT: undefined },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`node ${args.join(" ")} exited ${code}:\n${stderr.slice(-2000)}`));
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

/** Lines to print: each subject's median wall time and its ratio to `node -e 0`, with the goals. */
export async function startupBench(options: { rounds?: number } = {}): Promise<string[]> {
  if (!existsSync(BUILT)) throw new Error("the CLI is not built: run `npm run build` first (npm run bench does)");
  const rounds = options.rounds ?? 15;
  const loadBefore = load();
  const times = new Map<string, number[]>(SUBJECTS.map((subject) => [subject.label, []]));
  for (const subject of SUBJECTS) await wallMs(subject.args); // warm-up: the file cache, not measured
  for (let round = 0; round < rounds; round++) {
    for (const subject of SUBJECTS) {
      if (round % (subject.every ?? 1) !== 0) continue;
      times.get(subject.label)!.push(await wallMs(subject.args));
    }
  }
  const node = median(times.get("node -e 0")!);
  const lines = [
    `start-up (whole process, spawn to exit; ${cpus().length} cores, load average ${loadBefore} before, ${load()} after):`,
  ];
  for (const subject of SUBJECTS) {
    const samples = times.get(subject.label)!;
    const ms = median(samples);
    const ratio = subject.label === "node -e 0" ? "" : `  = ${(ms / node).toFixed(2)}x node -e 0`;
    // The spread says how much to trust the median on a machine that other work shares.
    const spread = `${Math.min(...samples).toFixed(0)}-${Math.max(...samples).toFixed(0)}`;
    lines.push(
      `  ${subject.label.padEnd(26)} ${ms.toFixed(0).padStart(5)} ms (median of ${samples.length}, ${spread})${ratio}`,
    );
  }
  const help = median(times.get("rotator --help")!) / node;
  const sandbox = median(times.get("rotator rotate --sandbox")!);
  lines.push(
    `  goals: --help at most 2.5x node -e 0 (now ${help.toFixed(2)}x: ${help <= 2.5 ? "met" : "NOT met"}); ` +
      `rotate --sandbox at most 1500 ms (now ${sandbox.toFixed(0)} ms: ${sandbox <= 1500 ? "met" : "NOT met"})`,
  );
  return lines;
}
