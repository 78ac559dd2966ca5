/**
 * The local trial kit's emulators as a user runs them: `rotator emulator twilio` and `rotator emulator
 * azure-key-vault` as processes of their own, driven only over HTTP and through the official clients.
 *
 * - the Twilio emulator's clock: a key made while it runs 91 days behind is 91 days old once it is moved on, so
 *   `rotate --if-due` and `schedule` rotate it (and the new key, made on the moved clock, is not due);
 * - --subaccounts, --rate-limit and --faults FILE take effect from the start; bad ones are refused (exit 2);
 * - the Key Vault emulator's line is all a config needs: rotate writes the new key to a secret in it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, describe, expect, it } from "vitest";
import type { TwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient } from "../../src/twilio/client.js";
import {
  authenticates,
  cliArgs,
  makeWorkspace,
  readStoreKey,
  root,
  runCli,
  transcript,
  until,
  useE2e,
  type Workspace,
  writeConfigFor,
} from "./harness.js";

const e2e = useE2e();
const bin = join(root, "bin", "rotator.js");
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

/** `rotator emulator …` as a process; resolves with its one JSON line (its secrets go to the file's scan). */
async function emulator<T>(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ line: T; child: ChildProcess }> {
  const child = spawn(process.execPath, [bin, "emulator", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  const first = once(createInterface({ input: child.stdout! }), "line") as Promise<[string]>;
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`rotator emulator ${args.join(" ")} exited ${code} before its line: ${stderr}`);
  });
  const [line] = await Promise.race([first, exited]);
  return { line: JSON.parse(line) as T, child };
}

interface TwilioLine {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  subaccounts?: Array<{ sid: string; friendlyName: string; authToken: string }>;
}

const admin = async (baseUrl: string, path: string, init: RequestInit = {}) => {
  const response = await fetch(`${baseUrl}/__emulator/${path}`, init);
  return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> };
};

/** A workspace on an emulator process: it has only the origin and the main account's credentials. */
function asEmulator(line: TwilioLine): TwilioEmulator {
  return { baseUrl: line.baseUrl, accountSid: line.accountSid, authToken: line.authToken } as TwilioEmulator;
}

describe("rotator emulator twilio", () => {
  it("--clock-offset -91d, then the clock moved on: rotate --if-due and schedule rotate the 91-day-old keys", async () => {
    const { line } = await emulator<TwilioLine>(["twilio", "--clock-offset", "-91d"]);
    e2e.issuedSecrets.add(line.authToken);
    expect((await admin(line.baseUrl, "clock")).body.offsetSeconds).toBe(-91 * 86_400);
    // Keys made now are dated 91 days ago; then 91 days pass.
    const byRotate = await makeWorkspace(asEmulator(line), 1);
    const bySchedule = await makeWorkspace(asEmulator(line), 1);
    e2e.workspaces.push(byRotate, bySchedule);
    const moved = await admin(line.baseUrl, "clock", { method: "POST", body: JSON.stringify({ advance: "91d" }) });
    expect(moved).toMatchObject({ status: 200, body: { offsetSeconds: 0 } });

    const due = await runCli(cliArgs(byRotate, "status"), { env: byRotate.env });
    expect(JSON.parse(due.stdout)).toMatchObject({ ageDays: 91, due: true });
    const rotated = await runCli(cliArgs(byRotate, "rotate", "--if-due", "--yes"), { env: byRotate.env });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout).status).toBe("completed");
    expect(await authenticates(asEmulator(line), byRotate.seeded.sid, byRotate.seeded.secret)).toBe(false);
    const again = await runCli(cliArgs(byRotate, "rotate", "--if-due", "--yes"), { env: byRotate.env });
    expect(JSON.parse(again.stdout).status).toBe("not-due");

    const scheduler = spawn(
      process.execPath,
      [bin, ...cliArgs(bySchedule, "schedule", "--cron", "* * * * * *", "--jitter", "0s")],
      { env: bySchedule.env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(scheduler);
    let out = "";
    scheduler.stdout!.on("data", (chunk) => {
      out += chunk;
    });
    const decisions = () =>
      out
        .split("\n")
        .filter((text) => text.startsWith("{"))
        .map((text) => JSON.parse(text) as { command?: string; status?: string });
    await until(
      async () => decisions().some((d) => d.command === "rotate --if-due" && d.status === "completed"),
      30_000,
    );
    scheduler.kill("SIGTERM");
    expect((await once(scheduler, "exit"))[0]).toBe(0);
    transcript.push(out);
    expect((await readStoreKey(bySchedule.storeFiles[0]!)).sid).not.toBe(bySchedule.seeded.sid);
  });

  it("--subaccounts, --rate-limit and --faults FILE are in force from the start", async () => {
    const ws = await e2e.workspace(1);
    const faults = join(ws.dir, "faults.json");
    await writeFile(
      faults,
      JSON.stringify([
        { kind: "server-error", status: 503, method: "GET", path: "/2010-04-01/Accounts/*.json", times: 1 },
      ]),
    );
    const { line } = await emulator<TwilioLine>([
      "twilio",
      "--subaccounts",
      "2",
      "--subaccount-prefix",
      "cust-",
      "--rate-limit",
      "2",
      "--faults",
      faults,
    ]);
    e2e.issuedSecrets.add(line.authToken);
    for (const sub of line.subaccounts ?? []) e2e.issuedSecrets.add(sub.authToken);
    expect(line.subaccounts?.map((sub) => sub.friendlyName)).toEqual(["cust-0", "cust-1"]);
    const sub = line.subaccounts![1]!;
    const client = createTwilioClient({
      accountSid: sub.sid,
      username: sub.sid,
      password: sub.authToken,
      baseUrl: line.baseUrl,
    });
    // The fault answers the first account read; the client's retry-free call sees the 503.
    await expect(client.api.v2010.accounts(sub.sid).fetch()).rejects.toMatchObject({ status: 503 });
    await until(async () => {
      try {
        return (await client.api.v2010.accounts(sub.sid).fetch()).friendlyName === "cust-1";
      } catch {
        return false;
      }
    });
    // Two requests a second per account: a burst of ten is mostly refused with 429.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.api.v2010
          .accounts(sub.sid)
          .fetch()
          .then(
            () => 200,
            (error: { status?: number }) => error.status,
          ),
      ),
    );
    expect(burst.filter((status) => status === 429).length).toBeGreaterThanOrEqual(5);
    expect((await admin(line.baseUrl, "stats")).body.rateLimited).toBeGreaterThanOrEqual(5);
  });

  it("refuses a faults file that is not faults, a clock offset that is not a duration, a count out of range", async () => {
    const ws = await e2e.workspace(1);
    const faults = join(ws.dir, "faults.json");
    await writeFile(faults, JSON.stringify([{ kind: "earthquake" }]));
    for (const [args, says] of [
      [["--faults", faults], `--faults ${faults}: fault 1: invalid fault`],
      [["--faults", join(ws.dir, "none.json")], "cannot read it (ENOENT)"],
      [["--clock-offset", "yesterday"], '"yesterday" is not a duration: use e.g. -91d'],
      [["--subaccounts", "0"], "--subaccounts must be 1 to 1000"],
    ] as const) {
      const run = await runCli(["emulator", "twilio", ...args], { env: process.env });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(says);
    }
  });
});

describe("rotator emulator azure-key-vault", () => {
  it("prints what a config needs; rotate writes the new key to a secret in it", async () => {
    interface KeyVaultLine {
      vaultUrl: string;
      authorityHost: string;
      tenantId: string;
      clientId: string;
      clientSecret: string;
      caFile: string;
    }
    const { line } = await emulator<KeyVaultLine>(["azure-key-vault"]);
    e2e.issuedSecrets.add(line.clientSecret);
    const ca = readFileSync(line.caFile, "utf8");
    const credential = new ClientSecretCredential(line.tenantId, line.clientId, line.clientSecret, {
      authorityHost: line.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca },
    });
    const secrets = new SecretClient(line.vaultUrl, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca },
    });
    const ws: Workspace = await e2e.workspace(1);
    const seeded = { accountSid: ws.twilio.accountSid, apiKeySid: ws.seeded.sid, apiKeySecret: ws.seeded.secret };
    await secrets.setSecret("twilio", JSON.stringify(seeded), { contentType: "application/json" });
    await writeConfigFor(ws, {
      stores: {
        1: {
          name: "azure",
          type: "azure-key-vault",
          vaultUrl: line.vaultUrl,
          secretName: "twilio",
          auth: {
            method: "client-secret",
            tenantId: line.tenantId,
            clientId: line.clientId,
            clientSecret: { env: "AZURE_CLIENT_SECRET" },
            authorityHost: line.authorityHost,
          },
          disableChallengeResourceVerification: true,
        },
      },
    });
    const env = { ...ws.env, AZURE_CLIENT_SECRET: line.clientSecret, NODE_EXTRA_CA_CERTS: line.caFile };
    const run = await runCli(cliArgs(ws, "rotate", "--yes"), { env });
    expect(run.code, run.stderr).toBe(0);
    const held = JSON.parse((await secrets.getSecret("twilio")).value ?? "{}");
    const file = await readStoreKey(ws.storeFiles[0]!);
    expect(held.apiKeySid).toBe(file.sid);
    expect(held.apiKeySid).not.toBe(ws.seeded.sid);
  });
});
