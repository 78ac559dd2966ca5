import { existsSync, writeFileSync } from "node:fs";

/**
 * Failpoints for crash tests: when ROTATOR_FAILPOINT names the point the engine reaches, the process
 * kills itself with SIGKILL there, exactly like a power cut or an OOM kill, so tests can prove that
 * `resume` recovers from that point. Unset in production, where this is a no-op.
 *
 * Points: after-create (key made, id not yet journaled), after-issue, after-verify, after-prepare:<store>, after-write:<store>, after-commit,
 * after-revoke-started, after-rollback-started, after-lock:<rotate|resume|rollback> (locks and claims taken,
 * nothing journaled by this command yet). A type that keeps its previous credential (engine/retire.ts):
 * after-promote (the revoke journaled, the signing lag not yet waited), after-retire-prepare:<store>,
 * after-retire:<store> (its retire write journaled), after-retire-commit, after-retire-undo:<store> (a failed
 * retire's undo of that store done, not yet journaled).
 */
export function failpoint(name: string, env: Readonly<Record<string, string | undefined>> = process.env): void {
  const wanted = env.ROTATOR_FAILPOINT;
  if (wanted === undefined || wanted === "") return;
  if (wanted.split(",").includes(name)) process.kill(process.pid, "SIGKILL");
}

/**
 * Pause points for race tests: when ROTATOR_PAUSE names the point the engine reaches, the process creates
 * `<ROTATOR_PAUSE_FILE>.reached` and waits until the test deletes `<ROTATOR_PAUSE_FILE>`. A test can so hold
 * one command at an exact point (between a read and a lock, say) while it runs another, which is what the
 * hostile tester widened with strace. Unset in production, where this is a no-op.
 *
 * Points: before-lock:<rotate|sync|resume|rollback> (its config recorded, no lock tried yet),
 * after-lock:<rotate|resume|rollback>; inside a store call that changes a store (providers/store-call.ts),
 * `store-change:<store>:<op>` (the lock confirmed, the request not yet on its way) and
 * `store-send:<store>:<op>` (the request about to leave, every check of this process passed), where <op> is the
 * provider's: aws stage | switch | unstage | restore-stage | restore-switch | relabel; vault write | restore |
 * delete | fence; azure-key-vault set | restore; dotenv write | restore.
 */
export async function pausepoint(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<void> {
  const wanted = env.ROTATOR_PAUSE;
  const file = env.ROTATOR_PAUSE_FILE;
  if (!wanted || !file || !wanted.split(",").includes(name)) return;
  writeFileSync(`${file}.reached`, name);
  while (existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 10));
}
