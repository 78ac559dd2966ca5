/**
 * `rotator plan` as a change list people can scan (issue #21, point 1), through the CLI: grouped by target (the
 * Twilio account, each store, each consumer), a symbol per change, masked from → to, wrapped to COLUMNS (80
 * without a terminal), a store's note said once under that store, the count last; `--json` as it was; rotate's
 * question shows the same list. The file's secret scan covers every output.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { cliArgs, runCli, runInProcess, useE2e, type Workspace } from "./harness.js";

/** `plan` for people: the harness's arguments without --json. */
const planArgs = (ws: Workspace) => ["plan", "--config", ws.configPath, "--state-dir", ws.stateDir];

const e2e = useE2e();

/** Two stores holding the seeded key, a third with no credential yet (its note), and a command consumer. */
async function planWorkspace(): Promise<Workspace> {
  const ws = await e2e.workspace(2);
  const empty = join(ws.dir, "app-3.env");
  await writeFile(empty, "# filled by rotator\n", { mode: 0o600 });
  ws.storeFiles.push(empty);
  await ws.writeConfig('consumers:\n  - { name: cron-job, type: command, command: ["true"] }\n');
  return ws;
}

const linesOf = (text: string) => stripVTControlCharacters(text).split("\n");
/** The lines from the one matching `start` up to (not including) the next blank line. */
function block(lines: string[], start: RegExp): string[] {
  const at = lines.findIndex((line) => start.test(line));
  expect(at, `no line matches ${start}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, index) => index > at && line.trim() === "");
  return lines.slice(at, end < 0 ? undefined : end);
}
/** A wrapped block read back as one line. */
const joined = (lines: string[]) => lines.map((line) => line.trim()).join(" ");

describe("plan as a change list", () => {
  it("groups the changes by target with a symbol each, wraps them to COLUMNS, says a store's note once, counts last", async () => {
    const ws = await planWorkspace();
    const old = `SK…${ws.seeded.sid.slice(-4)}`;
    const run = await runCli(planArgs(ws), { env: { ...ws.env, COLUMNS: "60" } });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const lines = linesOf(run.stdout);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(60);
    expect(run.stdout).not.toContain(ws.seeded.secret);

    // Targets in order: the account, each store in config order, each consumer.
    const headers = lines.filter((line) => /^(Twilio account|store|consumer) /.test(line));
    expect(headers.map((line) => line.split(" (")[0])).toEqual([
      `Twilio account ${ws.twilio.accountSid.slice(0, 2)}…${ws.twilio.accountSid.slice(-4)}`,
      'store "app-1"',
      'store "app-2"',
      'store "app-3"',
      'consumer "cron-job"',
    ]);
    const twilio = joined(block(lines, /^Twilio account /));
    expect(twilio).toMatch(/\+ new key: create a standard API key named "e2e-<run id>"/);
    expect(twilio).toMatch(/\? new key: check it authenticates: GET \/2010-04-01\/Accounts\/AC…[0-9a-f]{4}\//);
    expect(twilio).toContain(`- ${old} → revoked: revoke the old key ${old}`);
    expect(joined(block(lines, /^store "app-1"/))).toContain(
      `~ ${old} → new key: write (1 of 3), read back and compare`,
    );
    expect(joined(block(lines, /^store "app-2"/))).toContain(`~ ${old} → new key: write (2 of 3)`);
    expect(joined(block(lines, /^consumer "cron-job"/))).toMatch(/\? (\S+ → )?new key: reload and wait until it uses/);
    // A change longer than the width goes on under a hanging indent.
    expect(block(lines, /^Twilio account /).some((line) => /^ {6}\S/.test(line))).toBe(true);

    // The empty store's note: once, under that store, and in no list elsewhere.
    const app3 = block(lines, /^store "app-3"/);
    expect(joined(app3)).toMatch(/~ \(none\) → new key: write \(3 of 3\)/);
    expect(joined(app3)).toMatch(/note: \S*app-3\.env holds no complete credential yet/);
    expect(joined(lines).split("holds no complete credential").length - 1).toBe(1);

    expect(joined(block(lines, /^on any failure/))).toBe(
      "on any failure before the revoke: restore app-3, app-2, app-1 (in that order) and delete the new key",
    );
    const count = block(lines, /^plan: /);
    expect(lines.slice(lines.indexOf(count[0] as string)).filter((line) => line.trim() !== "")).toEqual(count);
    expect(joined(count)).toBe("plan: 1 key to create, 3 stores to update, 1 key to revoke, 2 to wait for or check.");
  });

  it("wraps to 80 columns without a terminal or COLUMNS", async () => {
    const ws = await planWorkspace();
    const run = await runCli(planArgs(ws), { env: { ...ws.env, COLUMNS: undefined } });
    expect(run.code, run.stderr).toBe(0);
    const lines = linesOf(run.stdout);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(Math.max(...lines.map((line) => line.length))).toBeGreaterThan(60);
  });

  it("--json is the plan it was: the same keys, no change list in it", async () => {
    const ws = await planWorkspace();
    const run = await runCli(cliArgs(ws, "plan"), { env: { ...ws.env, COLUMNS: "60" } });
    const plan = JSON.parse(run.stdout);
    expect(Object.keys(plan).sort()).toEqual(
      [
        "schemaVersion",
        "command",
        "status",
        "exitCode",
        "runId",
        "oldKey",
        "newKey",
        "stores",
        "warnings",
        "steps",
        "actions",
        "summary",
        "problems",
        "notes",
        "currentKeyAgeDays",
        "consumers",
      ].sort(),
    );
    expect(plan.summary).toBe("1 key to create, 3 stores to update, 1 key to revoke");
    expect(plan.notes.join("\n")).toMatch(/^store "app-3": \S*app-3\.env holds no complete credential yet/m);
  });

  it("rotate's question on a terminal shows the same change list, wrapped, with the count", async () => {
    const ws = await planWorkspace();
    const args = ["rotate", "--config", ws.configPath, "--state-dir", ws.stateDir];
    const run = await runInProcess(args, { env: { ...ws.env, COLUMNS: "60" }, tty: true, answer: "n" });
    expect(run.code, run.stderr).toBe(8);
    const lines = linesOf(run.stderr);
    const question = lines.slice(
      lines.indexOf("rotate will:"),
      lines.findIndex((line) => line.includes("[y/N]")),
    );
    for (const line of question) expect(line.length, line).toBeLessThanOrEqual(60);
    expect(joined(block(question, /^store "app-1"/))).toContain("~ SK…");
    expect(joined(block(question, /^store "app-3"/))).toMatch(/note: \S*app-3\.env holds no complete credential yet/);
    expect(joined(block(question, /^plan: /))).toBe(
      "plan: 1 key to create, 3 stores to update, 1 key to revoke, 2 to wait for or check.",
    );
  });
});
