/**
 * Configs beside an e2e workspace's own, for the tests of what two configs, or one store named two ways, may do:
 * a second config over some of the same store files, a consumer that switches only when told, the keys a run made.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN_VARIABLE, type E2e, type Workspace } from "./harness.js";

/** The helpers, bound to the test file's emulator (`useE2e()`). */
export function configVariants(e2e: E2e) {
  /**
   * A consumer that uses the seeded key, and reports the new key only once `ready` exists: the run stops
   * awaiting consumers until then, and a rollback finds it back on the old key at once.
   */
  async function withSlowConsumer(ws: Workspace): Promise<string> {
    const ready = join(ws.dir, "consumer-ready");
    const check = join(ws.dir, "check-consumer.sh");
    await writeFile(check, `#!/bin/sh\ntest "$ROTATOR_EXPECTED_KEY_SID" = "${ws.seeded.sid}" || test -f ${ready}\n`, {
      mode: 0o755,
    });
    await ws.writeConfig(`consumers:\n  - { name: slow, type: command, command: [${check}] }\n`);
    await setVerify(ws.configPath, "consumersTimeoutSeconds: 0.5, consumersPollSeconds: 0.2");
    return ready;
  }

  /** A second config (its own file) over the given store paths, same account. */
  async function otherConfig(ws: Workspace, name: string, paths: string[], extra = ""): Promise<string> {
    const file = join(ws.dir, `${name}.yaml`);
    const stores = paths
      .map((path, i) => `  - { name: ${name}-${i + 1}, type: dotenv-file, path: ${path} }`)
      .join("\n");
    await writeFile(
      file,
      `version: 1\ntwilio:\n  accountSid: ${e2e.emulator.accountSid}\n  admin: { authToken: { env: ${ADMIN_VARIABLE} } }\n  baseUrl: ${e2e.emulator.baseUrl}\ncredential: { type: api-key, friendlyNamePrefix: e2e }\nstores:\n${stores}\nverify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }\n${extra}`,
    );
    return file;
  }

  /** Keys in the emulator's account that were not there at `before` (a snapshot of key SIDs). */
  const newKeys = (before: string[]) => e2e.emulator.keys().filter((k) => !before.includes(k.sid));
  const keySids = () => e2e.emulator.keys().map((k) => k.sid);

  return { withSlowConsumer, otherConfig, newKeys, keySids };
}

export const argsFor = (config: string, stateDir: string, command: string, ...rest: string[]) => [
  command,
  "--config",
  config,
  "--state-dir",
  stateDir,
  "--json",
  ...rest,
];

async function setVerify(configPath: string, extra: string): Promise<void> {
  const text = await readFile(configPath, "utf8");
  await writeFile(
    configPath,
    text.replace(
      "verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2 }",
      `verify: { newKeyTimeoutSeconds: 5, revokeConfirmSeconds: 2, ${extra} }`,
    ),
  );
}
