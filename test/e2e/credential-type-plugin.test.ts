/**
 * A credential type is a plug-in. The throw-away client-secret type (test/fixtures/credential-types/), whose
 * journal word has a hyphen and whose issuer makes API keys under other names, is registered by its launcher in
 * one line and, against the emulator, rotates, is killed (kill -9 at a failpoint) and resumed: its journal speaks
 * its words and resume reads them back. Nothing outside its folder and the registry names it.
 */
import { spawn } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { CommandResult } from "../../src/engine/result.js";
import {
  authenticates,
  type CliRun,
  cliArgs,
  journalRecords,
  REMOVE,
  root,
  transcript,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();
const typeFolder = join(root, "test", "fixtures", "credential-types");
const keySids = () => e2e.emulator.keys().map((key) => key.sid);

/** The CLI from source, started by the type's launcher (which registers it), as runCli starts the built one. */
function runWithPlugin(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", join(typeFolder, "run-cli.ts"), ...args], {
    cwd: root,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      transcript.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function resultOf(run: CliRun): CommandResult {
  expect(run.stdout.trim().startsWith("{"), `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(true);
  return JSON.parse(run.stdout) as CommandResult;
}

/** The client secret a store file holds (its variables are the type's dotenv names). */
async function clientIn(file: string): Promise<{ id: string | undefined; secret: string | undefined }> {
  const text = await readFile(file, "utf8");
  const value = (name: string) => text.match(new RegExp(`^${name}=(.*)$`, "m"))?.[1];
  return { id: value("APP_CLIENT_ID"), secret: value("APP_CLIENT_SECRET") };
}

/** Two dotenv stores holding the seeded key as a client secret, and a config rotating one. */
async function clientSecretWorkspace(): Promise<Workspace> {
  const ws = await e2e.workspace(2);
  for (const file of ws.storeFiles) {
    await writeFile(
      file,
      `APP=demo\nTWILIO_ACCOUNT_SID=${ws.twilio.accountSid}\nAPP_CLIENT_ID=${ws.seeded.sid}\nAPP_CLIENT_SECRET=${ws.seeded.secret}\n`,
      { mode: 0o600 },
    );
  }
  await writeConfigFor(ws, { credential: { type: "client-secret", friendlyNamePrefix: REMOVE } });
  return ws;
}

describe("a credential type registered as a plug-in", () => {
  it("rotates, is killed after writing one store, and resumes to completed, journaled in its own words", async () => {
    const ws = await clientSecretWorkspace();
    const before = keySids();

    const crashed = await runWithPlugin(cliArgs(ws, "rotate"), { ...ws.env, ROTATOR_FAILPOINT: "after-write:app-1" });
    expect(crashed.signal, crashed.stderr).toBe("SIGKILL");
    const [written, unwritten] = await Promise.all(ws.storeFiles.map(clientIn));
    expect(written?.id).not.toBe(ws.seeded.sid);
    expect(unwritten).toEqual({ id: ws.seeded.sid, secret: ws.seeded.secret });

    // The journal on disk speaks the type's words, the hyphen kept whole in the event and in the field.
    const issued = (await journalRecords(ws)).find((record) => record.event === "client-secret-issued");
    expect(issued).toMatchObject({ newClientSecretId: written?.id });
    expect((await journalRecords(ws)).find((record) => record.event === "preflight-passed")).toMatchObject({
      oldClientSecretId: ws.seeded.sid,
    });

    const resumed = await runWithPlugin(cliArgs(ws, "resume"), ws.env);
    const result = resultOf(resumed);
    expect(result.status, resumed.stderr).toBe("completed");
    expect(resumed.code).toBe(0);
    // Resume read the new id back from the journal and found its secret in the store it was written to.
    expect(resumed.stderr).toMatch(/recovered SK(?:…|\.\.\.)[0-9a-f]{4} from a store; finishing the writes/);
    const [a, b] = await Promise.all(ws.storeFiles.map(clientIn));
    expect(b).toEqual(a);
    expect(a?.id).toBe(written?.id);
    expect(await authenticates(e2e.emulator, a!.id!, a!.secret!)).toBe(true);
    expect(keySids()).not.toContain(ws.seeded.sid);
    expect(keySids().filter((sid) => !before.includes(sid))).toEqual([a?.id]);
    expect((await journalRecords(ws)).map((record) => record.event)).toEqual(
      expect.arrayContaining(["client-secret-verified", "old-client-secret-revoked"]),
    );

    const again = resultOf(await runWithPlugin(cliArgs(ws, "resume"), ws.env));
    expect(again.status).toBe("nothing-to-resume");
  });

  it("lives in its folder: its files import rotator's public entry (and the CLI to start), and rotator's never import it", async () => {
    const own = await readdir(typeFolder, { recursive: true });
    const sources = own.filter((name) => name.endsWith(".ts")).map((name) => join(typeFolder, name));
    for (const file of sources) {
      const imports = [...(await readFile(file, "utf8")).matchAll(/from "(\.[^"]+)"/g)].map((m) => m[1] ?? "");
      for (const target of imports) {
        const path = relative(root, join(file, "..", target));
        // rotator's public entry (the package's `rotator`), and the CLI to start.
        const allowed =
          path.startsWith("test/fixtures/credential-types/") || path === "src/index.js" || path === "src/cli/main.js";
        expect(allowed, `${relative(root, file)} imports ${path}`).toBe(true);
      }
    }
    for (const dir of ["src", "providers"]) {
      const files = (await readdir(join(root, dir), { recursive: true })).filter((name) => name.endsWith(".ts"));
      for (const name of files) {
        const text = await readFile(join(root, dir, name), "utf8");
        expect(text.includes("credential-types/"), `${dir}/${name} reaches into the type's folder`).toBe(false);
      }
    }
  });
});
