/**
 * Just before the revoke every store is read again: a store that went back to the old key while the run
 * waited for consumers (a config-management run, a restore from backup, a hand edit) stops the run with
 * exit 7 and the old key alive, instead of revoking the key that store's readers still use.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authenticates, cliArgs, readStoreKey, runCli, useE2e } from "./harness.js";

const e2e = useE2e();

describe("resume after awaiting consumers", () => {
  it("does not revoke the old key while a store holds it again", async () => {
    const ws = await e2e.workspace(2);
    const gate = join(ws.dir, "consumer-ready");
    const check = join(ws.dir, "check.sh");
    // The consumer reads app-1; it "switches" only once the gate file exists.
    await writeFile(
      check,
      `#!/bin/sh\n[ -f ${gate} ] && grep -q "^TWILIO_API_KEY=$ROTATOR_EXPECTED_KEY_SID$" ${ws.storeFiles[0]}\n`,
      { mode: 0o755 },
    );
    await ws.writeConfig(`consumers:\n  - { name: app, type: command, command: [${check}] }\n`);
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
        "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.2 }",
      ),
    );
    const app2Before = await readFile(ws.storeFiles[1]!);

    const run = await runCli(cliArgs(ws, "rotate"), { env: ws.env });
    expect(run.code, run.stderr).toBe(4);

    // While the run waits, store app-2 is put back to what it held (e.g. restored from a backup).
    await writeFile(ws.storeFiles[1]!, app2Before, { mode: 0o600 });
    await writeFile(gate, "");

    const newKey = await readStoreKey(ws.storeFiles[0]!);
    const resumed = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(resumed.code, resumed.stderr).toBe(7);
    const result = JSON.parse(resumed.stdout);
    expect(result.error).toContain(`app-2 (holds SK…${ws.seeded.sid.slice(-4)})`);
    expect(result.next).toContain("rotator resume");
    const app2 = await readStoreKey(ws.storeFiles[1]!);
    expect(app2.sid).toBe(ws.seeded.sid);
    expect(await authenticates(e2e.emulator, app2.sid!, app2.secret!)).toBe(true);

    // Once the operator puts the new key back, resume checks again and revokes.
    await writeFile(ws.storeFiles[1]!, await readFile(ws.storeFiles[0]!), { mode: 0o600 });
    const finished = await runCli(cliArgs(ws, "resume"), { env: ws.env });
    expect(finished.code, finished.stderr).toBe(0);
    expect(await authenticates(e2e.emulator, ws.seeded.sid, ws.seeded.secret)).toBe(false);
    expect(await authenticates(e2e.emulator, newKey.sid!, newKey.secret!)).toBe(true);
  });
});
