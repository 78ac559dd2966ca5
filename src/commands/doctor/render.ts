/** `rotator doctor` for people: findings grouped by what they are about, problems with their fix. */
import type { Output } from "../../cli/output.js";
import type { DoctorResult } from "./run.js";

export function renderDoctor(result: DoctorResult, output: Output): void {
  const s = output.out;
  const lines: string[] = [];
  const subjects = [...new Set(result.findings.map((f) => f.subject))];
  for (const subject of subjects) {
    lines.push(s.bold(subject));
    for (const finding of result.findings.filter((f) => f.subject === subject)) {
      if (finding.ok) {
        lines.push(`  ${s.ok(s.tick)} ${finding.check}${finding.detail ? s.dim(`: ${finding.detail}`) : ""}`);
        continue;
      }
      const certainty = finding.certainty === "likely" ? " (likely)" : "";
      lines.push(`  ${s.fail(s.cross)} ${finding.check}${certainty}: ${finding.cause}`);
      lines.push(`      fix: ${finding.fix}`);
      if (finding.console) lines.push(`      where: ${finding.console}`);
      const others = (finding.alternatives ?? []).slice(1);
      if (others.length > 0) {
        lines.push("      also possible:");
        for (const other of others) lines.push(`        - ${other.cause}: ${other.fix}`);
      }
    }
  }
  const problems = result.findings.filter((f) => !f.ok).length;
  lines.push(
    "",
    result.healthy
      ? s.ok(`${s.tick} healthy: ${result.findings.length} checks passed`)
      : s.fail(`${s.cross} ${problems} problem(s) found (exit ${result.exitCode})`),
  );
  output.print(lines);
}
