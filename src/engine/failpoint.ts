/**
 * Failpoints for crash tests: when ROTATOR_FAILPOINT names the point the engine reaches, the process
 * kills itself with SIGKILL there, exactly like a power cut or an OOM kill, so tests can prove that
 * `resume` recovers from that point. Unset in production, where this is a no-op.
 *
 * Points: after-create (key made, id not yet journaled), after-issue, after-verify, after-prepare:<store>, after-write:<store>, after-commit,
 * after-revoke-started, after-rollback-started.
 */
export function failpoint(name: string, env: Readonly<Record<string, string | undefined>> = process.env): void {
  const wanted = env.ROTATOR_FAILPOINT;
  if (wanted === undefined || wanted === "") return;
  if (wanted.split(",").includes(name)) process.kill(process.pid, "SIGKILL");
}
