// `npm test`: typecheck, lint, build, then vitest (the unit and integration projects; the integration project's
// globalSetup says what it installs and starts, and how long each took). Each step is named with its time, and
// the run ends with a line of them all. Arguments go to vitest: `npm test -- test/e2e/rotate.test.ts`.
//
// Output that is not a terminal (a CI log, `npm test > log`) gets no colour codes: vitest colours whenever
// TERM is not "dumb" (tinyrainbow never asks whether stdout is a terminal), so NO_COLOR is set for every step
// then, unless FORCE_COLOR asks for colour.
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";

const colour = process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined;
const env = colour ? process.env : { ...process.env, NO_COLOR: "1" };
const steps = [
  ["typecheck", "npm", ["run", "--silent", "typecheck"]],
  ["lint", "npm", ["run", "--silent", "lint"]],
  ["build", "npm", ["run", "--silent", "build"]],
  ["vitest", "npx", ["vitest", "run", ...process.argv.slice(2)]],
];

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const done = [];
const started = performance.now();
for (const [name, command, args] of steps) {
  process.stdout.write(`\n== npm test: ${name} (${[command, ...args].join(" ")})\n`);
  const from = performance.now();
  const code = await new Promise((resolve) => {
    const child = spawn(command, args, { stdio: "inherit", env });
    child.on("error", () => resolve(127));
    child.on("close", (exit, signal) => resolve(signal === null ? exit : 128));
  });
  done.push(`${name} ${seconds(performance.now() - from)}`);
  if (code !== 0) {
    process.stdout.write(`\n== npm test: ${name} failed (exit ${code}) after ${done.join(", ")}\n`);
    process.exit(code ?? 1);
  }
}
process.stdout.write(`\n== npm test: passed in ${seconds(performance.now() - started)} (${done.join(", ")})\n`);
