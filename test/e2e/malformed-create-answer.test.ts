/**
 * A malformed answer to the key create: never quoted (it may hold a secret), and never retried into a pile of
 * keys (issue #8's hostile tester, through the real CLI).
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { startHttpProxy } from "../harness/http-proxy.js";
import { configVariants } from "./config-variants.js";
import { cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();
const { newKeys, keySids } = configVariants(e2e);

describe("no secret printed", () => {
  it("a malformed create-key answer never quotes its body, and never piles up keys", async () => {
    const ws = await e2e.workspace(1);
    const keysBefore = keySids();
    // A middlebox cuts the JSON of every create-key answer after the secret's first characters.
    const proxy = await startHttpProxy(e2e.emulator.baseUrl, (request) =>
      request.method === "POST" && /\/Keys\.json$/.test(request.path)
        ? { rewrite: (body) => body.subarray(0, body.indexOf('"secret"') + 16) }
        : "forward",
    );
    try {
      const text = await readFile(ws.configPath, "utf8");
      await writeFile(ws.configPath, text.replace(`baseUrl: ${e2e.emulator.baseUrl}`, `baseUrl: ${proxy.endpoint}`));
      const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
      expect(run.code, run.stderr).toBe(3);
      expect(run.stdout).toMatch(/not JSON \(\d+ bytes, not shown/);
      const creates = proxy.requests.filter((r) => r.method === "POST" && /\/Keys\.json$/.test(r.path));
      expect(creates.length).toBeLessThanOrEqual(3);
      // Every key those creates made was deleted: none of this run's is left.
      expect(newKeys(keysBefore)).toEqual([]);
      expect((await readStoreKey(ws.storeFiles[0]!)).sid).toBe(ws.seeded.sid);
    } finally {
      await proxy.close();
    }
  });
});
