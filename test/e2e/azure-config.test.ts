/**
 * An azure-key-vault store's config through the real CLI. Bad input: each mistake gets exit 2 from `plan` and from
 * `rotate`, a message naming where it is (the config path, or the variable and where the config names it), and
 * nothing changes: no Twilio state, no Key Vault version, no dotenv byte, no journal. Good input: `plan` says
 * write permission is unverified, and `auth: { method: default }` runs DefaultAzureCredential's real chain
 * (its environment credential, from AZURE_* variables, against the test server's authority).
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, inject, it } from "vitest";
import { keyVaultAdmin } from "../../src/keyvault-emulator/admin-client.js";
import { AZURE_SECRET_VARIABLE, makeAzureStore } from "./azure-store.js";
import { cliArgs, journals, runCli, useE2e, type Workspace } from "./harness.js";

const e2e = useE2e();

/** A workspace whose first store is a Key Vault secret holding the seeded key, the second a dotenv file. */
async function azureWorkspace(): Promise<{ ws: Workspace; entry: Record<string, unknown>; good: string }> {
  const ws = await e2e.workspace(1);
  const servers = inject("servers");
  const azure = await makeAzureStore(servers, {
    accountSid: e2e.emulator.accountSid,
    apiKeySid: ws.seeded.sid,
    apiKeySecret: ws.seeded.secret,
  });
  ws.secrets.push(azure.clientSecret, servers.azure.clientSecret);
  Object.assign(ws.env, azure.env);
  const config = await readFile(ws.configPath, "utf8");
  const good = config.replace("stores:\n", `stores:\n  - ${JSON.stringify(azure.entry)}\n`);
  await writeFile(ws.configPath, good);
  return { ws, entry: azure.entry, good };
}

const withEntry = (good: string, entry: Record<string, unknown>, change: (e: Record<string, unknown>) => unknown) =>
  good.replace(JSON.stringify(entry), JSON.stringify(change(structuredClone(entry))));

const cases: Array<{
  name: string;
  edit?: (entry: Record<string, unknown>) => unknown;
  env?: (ws: Workspace) => Record<string, string | undefined>;
  expect: RegExp[];
}> = [
  {
    name: "a vaultUrl that is not https",
    edit: (e) => ({ ...e, vaultUrl: String(e.vaultUrl).replace("https:", "http:") }),
    expect: [/stores\[0\]\.vaultUrl: must be an https:\/\/ URL/],
  },
  {
    name: "a secretName outside ^[0-9a-zA-Z-]{1,127}$",
    edit: (e) => ({ ...e, secretName: "twilio_prod" }),
    expect: [/stores\[0\]\.secretName: must be 1 to 127 letters, digits and '-'/],
  },
  {
    name: "a missing tenantId",
    edit: (e) => ({ ...e, auth: { ...(e.auth as object), tenantId: undefined } }),
    expect: [/stores\[0\]\.auth\.tenantId/],
  },
  {
    name: "a missing clientId",
    edit: (e) => ({ ...e, auth: { ...(e.auth as object), clientId: undefined } }),
    expect: [/stores\[0\]\.auth\.clientId/],
  },
  {
    name: "the client secret variable unset",
    env: () => ({ [AZURE_SECRET_VARIABLE]: undefined }),
    expect: [/environment variable TEST_AZURE_CLIENT_SECRET is not set or empty/, /auth\.clientSecret\.env/],
  },
  {
    name: "a wrong client secret (found in preflight)",
    env: () => ({ [AZURE_SECRET_VARIABLE]: "not-the-client-secret-0001" }),
    expect: [/store "azure"/, /refused the application's client secret/, /TEST_AZURE_CLIENT_SECRET/],
  },
];

describe("azure-key-vault: bad input changes nothing and exits 2 with the place named", () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const { ws, entry, good } = await azureWorkspace();
      const config = testCase.edit === undefined ? good : withEntry(good, entry, testCase.edit);
      await writeFile(ws.configPath, config);
      const servers = inject("servers");
      const admin = keyVaultAdmin(servers.azure.vaultUrl, servers.azure.caPem);
      const vaultBefore = JSON.stringify(await admin.snapshot());
      const twilioBefore = JSON.stringify(e2e.emulator.snapshot());
      const fileBefore = await readFile(ws.storeFiles[0]!);
      for (const command of ["plan", "rotate"]) {
        const run = await runCli(cliArgs(ws, command), { env: { ...ws.env, ...(testCase.env?.(ws) ?? {}) } });
        expect(run.code, run.stdout + run.stderr).toBe(2);
        const result = JSON.parse(run.stdout);
        const text = [result.error, ...(result.problems ?? []), result.hint ?? ""].join("\n");
        for (const pattern of testCase.expect) expect(text).toMatch(pattern);
      }
      expect(JSON.stringify(await admin.snapshot())).toBe(vaultBefore);
      expect(JSON.stringify(e2e.emulator.snapshot())).toBe(twilioBefore);
      expect(await readFile(ws.storeFiles[0]!)).toEqual(fileBefore);
      expect(await journals(ws)).toBe("");
    });
  }

  it("auth method default: DefaultAzureCredential takes AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_AUTHORITY_HOST", async () => {
    const { ws, entry, good } = await azureWorkspace();
    const servers = inject("servers");
    const auth = entry.auth as { clientId: string };
    await writeFile(
      ws.configPath,
      withEntry(good, entry, (e) => ({ ...e, auth: { method: "default" } })),
    );
    const env = {
      ...ws.env,
      AZURE_TENANT_ID: servers.azure.tenantId,
      AZURE_CLIENT_ID: auth.clientId,
      AZURE_CLIENT_SECRET: ws.env[AZURE_SECRET_VARIABLE],
      AZURE_AUTHORITY_HOST: servers.azure.authorityHost,
    };
    const planned = await runCli(cliArgs(ws, "plan"), { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout).oldKey).toBe(`SK…${ws.seeded.sid.slice(-4)}`);

    const wrong = await runCli(cliArgs(ws, "plan"), {
      env: { ...env, AZURE_CLIENT_SECRET: "not-the-client-secret-0002" },
    });
    expect(wrong.code).toBe(2);
    expect(JSON.parse(wrong.stdout).problems.join("\n")).toMatch(/refused the application's client secret/);
  });

  it("plan of a good config notes that Key Vault write permission is unverified, and changes nothing", async () => {
    const { ws } = await azureWorkspace();
    const servers = inject("servers");
    const admin = keyVaultAdmin(servers.azure.vaultUrl, servers.azure.caPem);
    const vaultBefore = JSON.stringify(await admin.snapshot());
    const run = await runCli(cliArgs(ws, "plan"), { env: ws.env });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const notes: string[] = JSON.parse(run.stdout).notes;
    expect(notes.find((note) => note.startsWith('store "azure": '))).toContain("write permission is unverified");
    expect(JSON.stringify(await admin.snapshot())).toBe(vaultBefore);
  });
});
